//! MISC_CHECK process handling with real processes: a script that ignores
//! SIGTERM is SIGKILLed with its whole process group after the grace, and
//! a script runs as another user (`user` / global `script_user`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lvsd_checkers::check::Check;
use lvsd_checkers::misc::{resolve_ids, MiscCheck, MiscSpec, KILL_GRACE};
use lvsd_checkers::Verdict;

/// Temporary directory removed on drop (also when a test fails).
struct TmpDir(PathBuf);
impl TmpDir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("lvsd-misc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }
}
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spec(cmd: &str, timeout: Duration) -> MiscSpec {
    MiscSpec {
        misc_path: cmd.into(),
        misc_timeout: timeout,
        misc_dynamic: false,
        user: None,
        group: None,
        script_user: None,
        rs_weight: 1,
        script_security: false,
    }
}

/// Whether `pid` is still a live process (a zombie waiting for a reaper
/// that is not us counts as gone: it no longer runs).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}

fn read_pid(p: &Path) -> i32 {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{} holds no pid: {text:?}", p.display()))
}

/// Kills a leftover process if the test failed before the checker did.
struct Reap(Vec<i32>);
impl Drop for Reap {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if pid > 0 && alive(pid) {
                // SAFETY: plain syscall on a pid this test started.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_script_ignoring_sigterm_is_killed_with_its_group_after_the_grace() {
    let dir = TmpDir::new("term");
    let leader = dir.0.join("leader");
    let child = dir.0.join("child");
    // The shell and its background child both ignore SIGTERM.
    let cmd = format!(
        "/bin/sh -c 'trap \"\" TERM; echo $$ > {}; sleep 60 & echo $! > {}; wait; wait; wait'",
        leader.display(),
        child.display()
    );
    let check = MiscCheck::new(spec(&cmd, Duration::from_secs(1))).unwrap();
    let t0 = Instant::now();
    let outcome = check.attempt().await;
    let took = t0.elapsed();
    let pids = [read_pid(&leader), read_pid(&child)];
    let _reap = Reap(pids.to_vec());
    match &outcome.verdict {
        Verdict::Fail(r) => assert!(r.ends_with("timed out after 1s"), "{r}"),
        v => panic!("{v:?}"),
    }
    // SIGTERM at 1 s was ignored: the attempt lasted timeout + grace.
    let floor = Duration::from_secs(1) + KILL_GRACE - Duration::from_millis(100);
    assert!(took >= floor && took < Duration::from_secs(8), "{took:?}");
    // Both processes are gone (bounded wait for the kernel to finish).
    for _ in 0..50 {
        if !pids.iter().any(|&p| alive(p)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in pids {
        assert!(!alive(p), "process {p} survived SIGKILL of its group");
    }
}

#[tokio::test]
async fn a_script_runs_as_another_user_without_root_groups() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: running MISC_CHECK as `nobody` needs root (setuid); this test runs as uid {}",
            unsafe { libc::geteuid() }
        );
        return;
    }
    let Ok((uid, gid)) = resolve_ids(Some("nobody"), None) else {
        eprintln!("skipped: no `nobody` user on this machine");
        return;
    };
    assert_ne!(uid, 0);
    // Passes only with exactly nobody's uid, primary gid and no other group.
    let cmd = format!(
        "/bin/sh -c 'test \"$(id -u)\" = {uid} && test \"$(id -g)\" = {gid} && test \"$(id -G)\" = {gid}'"
    );
    // Through the global script_user default...
    let mut s = spec(&cmd, Duration::from_secs(5));
    s.script_user = Some("nobody".into());
    let c = MiscCheck::new(s).unwrap();
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    // ...and through the checker's own `user`, which wins over it.
    let mut s = spec(&cmd, Duration::from_secs(5));
    s.user = Some("nobody".into());
    s.script_user = Some("root".into());
    let c = MiscCheck::new(s).unwrap();
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    // Control: as root the same script fails.
    let c = MiscCheck::new(spec(&cmd, Duration::from_secs(5))).unwrap();
    match c.attempt().await.verdict {
        Verdict::Fail(r) => assert!(r.ends_with("exit status 1"), "{r}"),
        v => panic!("{v:?}"),
    }
    // `user USER GROUP`: the group is used as primary group.
    if let Ok((_, g2)) = resolve_ids(Some("nobody"), Some("nogroup")) {
        let cmd2 = format!("/bin/sh -c 'test \"$(id -g)\" = {g2} && test \"$(id -u)\" = {uid}'");
        let mut s = spec(&cmd2, Duration::from_secs(5));
        s.user = Some("nobody".into());
        s.group = Some("nogroup".into());
        let c = MiscCheck::new(s).unwrap();
        assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    }
}
