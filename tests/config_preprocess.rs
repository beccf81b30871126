//! Preprocessing through real files: includes (globs, braces, strict
//! variants, cycles), `$VAR` definitions, `@id` lines, `~SEQ`/`~LST`, and
//! positions that survive all of them.

use std::fs;
use std::path::{Path, PathBuf};

use lvsd::config::{load_file, load_str, LoadOptions, Loaded, PreprocessOptions};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("lvsd-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn opts(id: &str) -> LoadOptions {
    LoadOptions {
        preprocess: PreprocessOptions {
            config_id: id.into(),
            random_seed: 1,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn rs_addrs(l: &Loaded) -> Vec<String> {
    l.config
        .virtual_servers
        .iter()
        .flat_map(|v| {
            v.real_servers
                .iter()
                .map(|r| format!("{}:{}", r.addr, r.port.value))
        })
        .collect()
}

const VS_OPEN: &str = "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n";

#[test]
fn includes_resolve_relative_to_the_including_file_with_globs_and_braces() {
    let d = TempDir::new("incl");
    d.write("conf.d/a.conf", "real_server 10.0.0.11 80 {\n}\n");
    d.write("conf.d/b.conf", "real_server 10.0.0.12 80 {\n}\n");
    d.write("conf.d/c.skip", "real_server 10.0.0.13 80 {\n}\n");
    d.write("extra/x.conf", "real_server 10.0.0.14 80 {\n}\n");
    let main = d.write(
        "keepalived.conf",
        &format!("{VS_OPEN}include conf.d/*.conf\ninclude {{extra/x,conf.d/nothing*}}.conf\n}}\n"),
    );
    let l = load_file(&main, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(
        rs_addrs(&l),
        ["10.0.0.11:80", "10.0.0.12:80", "10.0.0.14:80"]
    );
}

#[test]
fn diagnostics_in_included_files_name_that_file_and_line() {
    let d = TempDir::new("incl-diag");
    let inc = d.write(
        "inc.conf",
        "\n\nreal_server 10.0.0.11 80 {\n  wieght 3\n}\n",
    );
    let main = d.write("main.conf", &format!("{VS_OPEN}include inc.conf\n}}\n"));
    let l = load_file(&main, &opts("lb1"));
    let text = l.render_diagnostics();
    let want = format!(
        "{}:4:3: error: unknown keyword `wieght` in real_server",
        inc.display()
    );
    assert!(text.starts_with(&want), "{text}");
}

#[test]
fn strict_includes_fail_with_exit_4_and_plain_ones_warn() {
    let d = TempDir::new("incl-strict");
    let main = d.write("main.conf", "includem missing.conf\n");
    let l = load_file(&main, &opts("lb1"));
    assert_eq!(l.diagnostics.exit_code(), 4, "{}", l.render_diagnostics());
    let main = d.write("main2.conf", "include missing.conf\n");
    let l = load_file(&main, &opts("lb1"));
    assert_eq!(l.diagnostics.exit_code(), 0);
    assert_eq!(l.diagnostics.warning_count(), 1);
    let main = d.write("main3.conf", "includew nothing-*.conf\n");
    assert_eq!(load_file(&main, &opts("lb1")).diagnostics.exit_code(), 4);
    let main = d.write("main4.conf", "includer nothing-*.conf\n");
    assert_eq!(load_file(&main, &opts("lb1")).diagnostics.exit_code(), 0);
}

#[test]
fn missing_main_file_exits_4() {
    let l = load_file(Path::new("/nonexistent/lvsd/keepalived.conf"), &opts("lb1"));
    assert_eq!(l.diagnostics.exit_code(), 4);
}

#[test]
fn include_cycles_are_reported() {
    let d = TempDir::new("incl-cycle");
    d.write("a.conf", "include b.conf\n");
    d.write("b.conf", "include a.conf\n");
    let l = load_file(&d.0.join("a.conf"), &opts("lb1"));
    let text = l.render_diagnostics();
    assert!(text.contains("error: include cycle: "), "{text}");
    assert!(text.contains("a.conf -> "), "{text}");
}

#[test]
fn definitions_substitute_recursively_at_use_time() {
    let text = format!(
        "$BASE=10.0.${{SUB}}\n$SUB=0\n{VS_OPEN}real_server ${{BASE}}.11 80 {{\n}}\n$SUB=7\nreal_server ${{BASE}}.12 80 {{\n}}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(rs_addrs(&l), ["10.0.0.11:80", "10.0.7.12:80"]);
}

#[test]
fn multiline_definitions_expand_to_blocks() {
    let text = format!(
        "$RS= \\\nreal_server 10.0.1.${{N}} 80 {{ \\\n  weight ${{N}} \\\n}}\n{VS_OPEN}$N=1\n$RS\n$N=2\n$RS\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(rs_addrs(&l), ["10.0.1.1:80", "10.0.1.2:80"]);
    assert_eq!(l.config.virtual_servers[0].real_servers[1].weight.value, 2);
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let text = format!(
        "@lb1 $W=5\n@^lb1 $W=7\n{VS_OPEN}real_server 10.0.0.11 80 {{\n weight $W\n}}\n@lb2 real_server 10.0.0.12 80 {{\n@lb2 }}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(rs_addrs(&l), ["10.0.0.11:80"]);
    assert_eq!(l.config.virtual_servers[0].real_servers[0].weight.value, 5);
    let l = load_str(Path::new("t.conf"), &text, &opts("lb2"));
    assert_eq!(rs_addrs(&l), ["10.0.0.11:80", "10.0.0.12:80"]);
    assert_eq!(l.config.virtual_servers[0].real_servers[0].weight.value, 7);
}

#[test]
fn seq_and_lst_expand_lines() {
    let text = format!(
        "{VS_OPEN}~SEQ(N,2,4) real_server 192.168.1.$N 80 {{ weight 1 }}\n~LST({{A,P}},{{20,81}},{{21,82}}) real_server 192.168.2.${{A}} ${{P}} {{ }}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(
        rs_addrs(&l),
        [
            "192.168.1.2:80",
            "192.168.1.3:80",
            "192.168.1.4:80",
            "192.168.2.20:81",
            "192.168.2.21:82"
        ]
    );
}

#[test]
fn seqx_formats_hex() {
    let text = "virtual_server 2001:db8::1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n~SEQx(X, 0x9, 0x1, 0xb) real_server 2001:db8::${X} 80 { }\n}\n";
    let l = load_str(Path::new("t.conf"), text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(
        rs_addrs(&l),
        ["2001:db8::9:80", "2001:db8::a:80", "2001:db8::b:80"]
    );
}

#[test]
fn errors_inside_expansions_point_at_the_use() {
    let text = format!("$W=heavy\n{VS_OPEN}real_server 10.0.0.11 80 {{\n  weight $W\n}}\n}}\n");
    let l = load_str(Path::new("t.conf"), &text, &opts("lb1"));
    let t = l.render_diagnostics();
    assert!(
        t.starts_with("t.conf:7:10: error: weight: `heavy` is not an integer"),
        "{t}"
    );
}

#[test]
fn builtins_hash_bang_and_instance() {
    let text = "vrrp_script chk {\n  script \"/bin/echo ${_HASH}${_BANG} ${_INSTANCE}\"\n}\n";
    let l = load_str(Path::new("t.conf"), text, &opts("lb9"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(l.config.vrrp_scripts[0].script.command, "/bin/echo #! lb9");
}

#[test]
fn crlf_tabs_continuations_and_one_line_blocks() {
    let text = "virtual_server 10.0.0.1 80\r\n{\r\n\tlb_algo rr\r\n\tlb_kind NAT\r\n\tprotocol \\\r\n TCP\r\n\treal_server 10.0.0.11 80 { weight 2 } real_server 10.0.0.12 80 {\r\n\t}}\r\n";
    let l = load_str(Path::new("t.conf"), text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(rs_addrs(&l), ["10.0.0.11:80", "10.0.0.12:80"]);
    assert_eq!(l.config.virtual_servers[0].real_servers[0].weight.value, 2);
}

#[test]
fn definitions_after_their_users_still_resolve() {
    // keepalived resolves groups, track files and scripts after parsing the
    // whole file; lvsd's streaming build must fall back to the same result.
    let text = "virtual_server group late {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.0.11 80 {\n  FILE_CHECK {\n   track_file tf\n  }\n }\n}\nvirtual_server_group late {\n 10.0.0.1 80\n}\ntrack_file tf {\n file /tmp/x\n}\nglobal_defs {\n checker_log_all_failures\n}\n";
    let l = load_str(Path::new("t.conf"), text, &opts("lb1"));
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    assert_eq!(l.config.virtual_servers.len(), 1);
    let chk = &l.config.virtual_servers[0].real_servers[0].checkers[0];
    assert!(chk.timing.log_all_failures);
}

#[test]
fn insecure_scripts_exit_6_under_enable_script_security() {
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new("scriptsec");
    let dir = d.0.join("open");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let script = dir.join("check.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\n{VS_OPEN}real_server 10.0.0.11 80 {{\n MISC_CHECK {{\n  misc_path \"{} arg\"\n }}\n}}\n}}\n",
        script.display()
    );
    let main = d.write("main.conf", &text);
    let mut o = opts("lb1");
    o.build.host_checks = true;
    let l = load_file(&main, &o);
    let t = l.render_diagnostics();
    assert_eq!(l.diagnostics.exit_code(), 6, "{t}");
    assert!(t.contains("script security: refusing"), "{t}");
    assert!(t.contains("is writable by everyone (mode 777)"), "{t}");
    // Without enable_script_security the same file is valid.
    let main = d.write("plain.conf", &text.replace(" enable_script_security\n", ""));
    assert_eq!(load_file(&main, &o).diagnostics.exit_code(), 0);
}
