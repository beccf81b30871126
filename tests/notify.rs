//! Notifications with real scripts and real FIFOs: notify_up/notify_down
//! and quorum_up/quorum_down scripts run without a shell, in transition
//! order even when an earlier one is slow; a hanging script is killed at
//! its timeout and the next one still runs; `notify_fifo` and
//! `lvs_notify_fifo` get keepalived's lines, a FIFO's script is started
//! with the FIFO's path.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lvsd::config::{load_str, Config, LoadOptions};
use lvsd::director::state::Transition;
use lvsd::notify::Notifier;

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn config(text: &str) -> Config {
    let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    l.config
}

/// Waits (bounded) until `file` has `n` lines; returns them.
async fn lines(file: &Path, n: usize, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let v: Vec<String> = text.lines().map(str::to_string).collect();
        if v.len() >= n || start.elapsed() > limit {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn scripts_run_in_transition_order_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // The first script is slow; order must still hold.
    let slow = write_script(
        dir.path(),
        "slow.sh",
        &format!("sleep 0.3; echo \"$1 $2\" >> {}", out.display()),
    );
    let fast = write_script(
        dir.path(),
        "fast.sh",
        &format!("echo \"$1\" >> {}", out.display()),
    );
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n quorum 1\n quorum_up \"{fast} quorum-up\"\n quorum_down \"{fast} quorum-down\"\n\
         real_server 10.0.0.2 80 {{\n  notify_down \"{slow} 'down a' x;y\"\n  notify_up \"{fast} up-a\"\n }}\n}}\n",
        fast = fast.display(),
        slow = slow.display()
    );
    let cfg = config(&text);
    let (mut n, _log) = Notifier::new(&cfg.global, Duration::from_secs(5));
    let t0 = Instant::now();
    n.notify(
        &cfg,
        &Transition::RealServerDown {
            vs: 0,
            rs: 0,
            reason: None,
        },
    );
    n.notify(&cfg, &Transition::QuorumDown { vs: 0 });
    n.notify(&cfg, &Transition::RealServerUp { vs: 0, rs: 0 });
    n.notify(&cfg, &Transition::QuorumUp { vs: 0 });
    assert!(t0.elapsed() < Duration::from_millis(200), "queuing blocked");
    let got = lines(&out, 4, Duration::from_secs(10)).await;
    // `'down a'` is one word and `x;y` reaches the script verbatim: no shell.
    assert_eq!(got, vec!["down a x;y", "quorum-down", "up-a", "quorum-up"]);
}

#[tokio::test]
async fn a_hanging_script_is_killed_at_its_timeout_and_the_next_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pidfile = dir.path().join("pid");
    let hang = write_script(
        dir.path(),
        "hang.sh",
        &format!("echo $$ > {}; sleep 60", pidfile.display()),
    );
    let fast = write_script(
        dir.path(),
        "fast.sh",
        &format!("echo up >> {}", out.display()),
    );
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n real_server 10.0.0.2 80 {{\n  notify_down {}\n  notify_up {}\n }}\n}}\n",
        hang.display(),
        fast.display()
    );
    let cfg = config(&text);
    let (mut n, mut log) = Notifier::new(&cfg.global, Duration::from_millis(500));
    let t0 = Instant::now();
    n.notify(
        &cfg,
        &Transition::RealServerDown {
            vs: 0,
            rs: 0,
            reason: None,
        },
    );
    n.notify(&cfg, &Transition::RealServerUp { vs: 0, rs: 0 });
    let got = lines(&out, 1, Duration::from_secs(10)).await;
    assert_eq!(got, vec!["up"]);
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    let msg = tokio::time::timeout(Duration::from_secs(5), log.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        msg.contains("notify_down") && msg.contains("timed out"),
        "{msg}"
    );
    // The hanging script's process is gone.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only probes for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "script {pid} still running");
}

#[tokio::test]
async fn fifos_get_keepalived_lines_and_the_fifo_script_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("notify.fifo");
    let lvs_fifo = dir.path().join("lvs.fifo");
    let copy = dir.path().join("copy");
    let reader = write_script(
        dir.path(),
        "reader.sh",
        &format!("exec cat \"$1\" > {}", copy.display()),
    );
    let text = format!(
        "global_defs {{\n notify_fifo {}\n lvs_notify_fifo {} {}\n}}\n\
         virtual_server 10.0.0.1 80 {{\n protocol TCP\n real_server 10.0.0.2 8080 {{\n }}\n}}\n\
         virtual_server fwmark 5 {{\n ip_family inet6\n real_server 2001:db8::2 80 {{\n }}\n}}\n",
        fifo.display(),
        lvs_fifo.display(),
        reader.display()
    );
    let cfg = config(&text);
    let (mut n, _log) = Notifier::new(&cfg.global, Duration::from_secs(5));
    assert!(std::fs::metadata(&fifo).is_ok(), "FIFO created");
    let reader_end = std::fs::File::open(&fifo).unwrap();
    n.notify(
        &cfg,
        &Transition::RealServerDown {
            vs: 0,
            rs: 0,
            reason: Some("connection refused".into()),
        },
    );
    n.notify(&cfg, &Transition::QuorumDown { vs: 0 });
    n.notify(&cfg, &Transition::RealServerUp { vs: 1, rs: 0 });
    let mut r = BufReader::new(reader_end);
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        got.push(l);
    }
    let want = vec![
        "RS [10.0.0.2]:tcp:8080 [10.0.0.1]:tcp:80 DOWN\n",
        "VS [10.0.0.1]:tcp:80 DOWN\n",
        "RS [2001:db8::2]:tcp:80 FWM 5 UP\n",
    ];
    assert_eq!(got, want);
    // lvs_notify_fifo's script got the same lines through its FIFO.
    let copied = lines(&copy, 3, Duration::from_secs(10)).await;
    assert_eq!(
        copied,
        want.iter()
            .map(|l| l.trim_end().to_string())
            .collect::<Vec<_>>()
    );
    drop(n);
}
