//! The operators' seed configurations against the real keepalived 2.2.7
//! (`keepalived -t`, Debian package) and `lvsd`'s front end: lvsd accepts
//! what keepalived 2.1 accepted (`vrrp_garp_interval 0`), reports host facts
//! as warnings, and turns typos into errors with a suggestion.

use std::path::{Path, PathBuf};
use std::process::Command;

use lvsd::config::{load_file, BuildOptions, LoadOptions, PreprocessOptions};

fn seeds() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seeds");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/seeds exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    v.sort();
    assert!(v.len() >= 20, "expected the extracted seed configs");
    v
}

fn keepalived_t(path: &Path) -> (i32, String) {
    let out = Command::new("keepalived")
        .arg("-t")
        .arg("-f")
        .arg(path)
        .output()
        .expect("keepalived 2.2.7 must be installed (scripts/install-deps installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lvsd(path: &Path) -> lvsd::config::Loaded {
    let opts = LoadOptions {
        preprocess: PreprocessOptions {
            config_id: "lb1".into(),
            ..Default::default()
        },
        build: BuildOptions { host_checks: true },
    };
    load_file(path, &opts)
}

#[test]
fn seeds_pass_lvsd_except_the_typo() {
    for path in seeds() {
        let l = lvsd(&path);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("seed002") {
            let text = l.render_diagnostics();
            assert_eq!(l.diagnostics.error_count(), 1, "{name}: {text}");
            assert!(
                text.contains("unknown keyword `stmp_connect_timeout` in global_defs")
                    && text.contains("did you mean `smtp_connect_timeout`?"),
                "{name}: {text}"
            );
            assert_eq!(l.diagnostics.exit_code(), 5);
        } else {
            assert!(!l.has_errors(), "{name}: {}", l.render_diagnostics());
            assert_eq!(l.diagnostics.exit_code(), 0);
        }
    }
}

#[test]
fn keepalived_rejects_garp_interval_zero_that_lvsd_accepts() {
    let mut compared = 0;
    for path in seeds() {
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("vrrp_garp_interval 0") {
            continue;
        }
        let (code, err) = keepalived_t(&path);
        assert!(
            err.contains("vrrp_garp_interval '0' is invalid"),
            "{}: keepalived said: {err}",
            path.display()
        );
        assert_ne!(code, 0, "{}", path.display());
        let l = lvsd(&path);
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        compared += 1;
    }
    assert!(compared >= 5, "seeds with vrrp_garp_interval 0: {compared}");
}

#[test]
fn missing_interfaces_and_scripts_are_warnings_not_errors() {
    for path in seeds() {
        let (_, kerr) = keepalived_t(&path);
        let l = lvsd(&path);
        let text = l.render_diagnostics();
        if kerr.contains("doesn't exist") || kerr.contains("not found") {
            // keepalived treats these host facts as errors; lvsd warns.
            assert!(text.contains("warning:"), "{}: {text}", path.display());
        }
        for d in l.diagnostics.items() {
            if d.message.contains("does not exist on this host") {
                assert_eq!(d.severity, lvsd::config::Severity::Warning);
            }
        }
    }
}

#[test]
fn the_typo_is_an_error_for_both() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seeds/seed002-b00-conf.conf");
    let (code, err) = keepalived_t(&path);
    assert!(
        err.contains("Unknown keyword 'stmp_connect_timeout'"),
        "{err}"
    );
    assert_eq!(code, 5);
    let l = lvsd(&path);
    assert_eq!(l.diagnostics.exit_code(), 5);
}

#[test]
fn every_example_passes_lvsd_and_keepalived_parses_it_without_unknown_keywords() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "conf") {
            continue;
        }
        let l = lvsd(&path);
        assert!(
            !l.has_errors(),
            "{}: {}",
            path.display(),
            l.render_diagnostics()
        );
        let (_, err) = keepalived_t(&path);
        assert!(
            !err.contains("Unknown keyword"),
            "{}: keepalived 2.2.7 does not know a keyword: {err}",
            path.display()
        );
    }
}
