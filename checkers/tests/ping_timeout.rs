//! PING_CHECK against an address nobody answers fails when connect_timeout
//! has passed, not before and not much after. The target lives in a
//! network namespace this test creates (a veth pair whose far end has no
//! address: every echo vanishes); the check runs on a thread inside it. Needs root.

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use lvsd_checkers::check::Check;
use lvsd_checkers::conn::ConnOptions;
use lvsd_checkers::outcome::Verdict;
use lvsd_checkers::ping::{PingCheck, PingSpec};

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {}", args.join(" "));
}

#[test]
fn ping_without_reply_fails_at_connect_timeout() {
    // SAFETY: plain getter.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "needs root (network namespaces)"
    );
    let ns = Netns(format!("lvchk-ping-{}", std::process::id()));
    ip(&["netns", "add", &ns.0]);
    ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
    // A veth pair inside the namespace: echoes to 10.99.0.2 leave v0 (a
    // static neighbour entry, no ARP) and die at v1, which has no address.
    ip(&[
        "-n", &ns.0, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
    ]);
    ip(&["-n", &ns.0, "addr", "add", "10.99.0.1/24", "dev", "v0"]);
    ip(&["-n", &ns.0, "link", "set", "v0", "up"]);
    ip(&["-n", &ns.0, "link", "set", "v1", "up"]);
    ip(&[
        "-n",
        &ns.0,
        "neigh",
        "add",
        "10.99.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "v0",
    ]);
    let path = format!("/run/netns/{}", ns.0);
    let result = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("netns file");
        // SAFETY: setns on this thread only, with a valid fd.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let c = PingCheck::new(PingSpec {
                conn: ConnOptions::new("10.99.0.2:0".parse().unwrap(), Duration::from_millis(1500)),
            });
            let start = Instant::now();
            let v = c.attempt().await.verdict;
            (v, start.elapsed())
        })
    })
    .join()
    .expect("ping thread");
    let (v, took) = result;
    match v {
        Verdict::Fail(why) => assert!(why.contains("no echo reply within"), "{why}"),
        other => panic!("unexpected verdict {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(1450) && took <= Duration::from_millis(2000),
        "failed after {took:?}, connect_timeout 1.5 s"
    );
}
