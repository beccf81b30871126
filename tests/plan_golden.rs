//! `lvsd plan` on every example and seed configuration, compared with golden
//! `ipvsadm -Sn`-format outputs in tests/golden/plan/ (regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test plan_golden`, then review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn configs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["examples", "examples/seeds"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "conf") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn plan(path: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["plan", "-i", "lb1", "-f"])
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plans_match_golden_outputs() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let mut compared = 0;
    for cfg in configs() {
        let (code, out, err) = plan(&cfg, &[]);
        let name = cfg.file_stem().unwrap().to_string_lossy().to_string();
        if name.starts_with("seed002") {
            assert_eq!(
                code, 5,
                "{name}: a config with errors must be refused: {err}"
            );
            assert!(out.is_empty());
            continue;
        }
        assert_eq!(code, 0, "{name}: {err}");
        let golden = root().join("tests/golden/plan").join(format!("{name}.sn"));
        if update {
            std::fs::write(&golden, &out).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("missing golden {}", golden.display()));
        if out != want {
            failures.push(format!("{name}:\n--- want\n{want}--- got\n{out}"));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(update || compared >= 25, "compared {compared}");
}

#[test]
fn plan_refuses_errors_unless_told_to_skip_them() {
    let cfg = root().join("examples/seeds/seed002-b00-conf.conf");
    let (code, _, err) = plan(&cfg, &[]);
    assert_eq!(code, 5);
    assert!(err.contains("refusing to run"), "{err}");
    let (code, out, _) = plan(&cfg, &["--ignore-config-errors"]);
    assert_eq!(code, 0);
    assert!(out.is_empty());
}

#[test]
fn config_test_exit_codes() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    let ok = root().join("examples/lvs-dr-http.conf");
    let bad = root().join("examples/seeds/seed002-b00-conf.conf");
    assert_eq!(run(&["-t", "-f", ok.to_str().unwrap()]), Some(0));
    assert_eq!(
        run(&["-f", bad.to_str().unwrap(), "--config-test"]),
        Some(5)
    );
    assert_eq!(run(&["-t", "-f", "/nonexistent/keepalived.conf"]), Some(4));
}

#[test]
fn dump_shows_effective_values_and_their_origin() {
    let cfg = root().join("examples/lvs-dr-http.conf");
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-t", "--dump", "-f"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rs = &v["virtual_servers"][0]["real_servers"][0];
    let timing = &rs["checkers"][0]["timing"];
    // connect_timeout 3 is set in the checker; delay_loop 6 comes from the VS.
    assert_eq!(timing["connect_timeout"]["value"], 3.0);
    assert!(timing["connect_timeout"]["from"]
        .as_str()
        .unwrap()
        .starts_with("set at "));
    assert_eq!(timing["delay_loop"]["value"], 6.0);
    let from = timing["delay_loop"]["from"].as_str().unwrap();
    assert!(
        from.starts_with("inherited from virtual_server (set at "),
        "{from}"
    );
    assert!(from.ends_with("lvs-dr-http.conf:9:5)"), "{from}");
    // warmup defaults to delay_loop.
    assert_eq!(timing["warmup"]["value"], 6.0);
    assert_eq!(timing["warmup"]["from"], "default: equal to delay_loop");
}

#[test]
fn list_without_ipvs_is_one_line_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["list", "-n"])
        .output()
        .unwrap();
    if Path::new("/proc/net/ip_vs").exists() {
        // A kernel with IPVS (the lab): the listing starts with the header.
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("IP Virtual Server version"));
    } else {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("modprobe ip_vs"), "{err}");
    }
}
