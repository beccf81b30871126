//! Interop with the real keepalived 2.2.7 (`keepalived -P`, VRRP only) in
//! network namespaces, both directions, VRRPv2 and VRRPv3: the higher
//! priority wins whichever implementation runs it, takeover times are the
//! RFC's (crash: 3 x interval + skew; resignation: skew), and tcpdump
//! decodes lvsd's adverts as valid VRRP. Needs root and keepalived
//! (installed by scripts/install-deps).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::netlab::{wait_until, Lan, Proc, TempDir};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");
const SLACK: Duration = Duration::from_millis(500);

fn conf(lan: &Lan, version: u8, advert: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  version {version}\n  priority {priority}\n  advert_int {advert}\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
        lan.vip()
    )
}

fn lvsd(lan: &Lan, dir: &TempDir, i: usize, text: &str, tag: &str) -> Proc {
    lan.lvsd_vrrp(i, LVSD, dir, &format!("lvsd-{tag}"), text)
}

fn keepalived(lan: &Lan, dir: &TempDir, i: usize, text: &str, tag: &str) -> Proc {
    let c = dir.write(&format!("ka-{tag}.conf"), text);
    let p = |n: &str| {
        dir.path(&format!("ka-{tag}.{n}"))
            .to_string_lossy()
            .into_owned()
    };
    let c = c.to_string_lossy().into_owned();
    let (pid, vpid) = (p("pid"), p("vrrp.pid"));
    lan.spawn(
        i,
        &[
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-G",
            "-R",
            "-P",
            "-f",
            &c,
            "-p",
            &pid,
            "-r",
            &vpid,
        ],
        &dir.path(&format!("ka-{tag}.log")),
    )
}

fn holds_only(lan: &Lan, i: usize) -> bool {
    lan.holders() == vec![i]
}

fn keepalived_present() {
    let ok = Command::new("keepalived")
        .arg("--version")
        .output()
        .map(|o| o.status.success() || !o.stderr.is_empty())
        .unwrap_or(false);
    assert!(ok, "keepalived is not installed: run scripts/install-deps");
}

/// Captures 2 adverts on the bridge and returns tcpdump's decoding.
fn tcpdump_adverts(lan: &Lan) -> String {
    let out = Command::new("timeout")
        .args(["5", "ip", "netns", "exec", &lan.bridge_ns()])
        .args([
            "tcpdump",
            "-i",
            "br0",
            "-nn",
            "-v",
            "-c",
            "2",
            "ip proto 112",
        ])
        .output()
        .expect("tcpdump");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Node 0 runs lvsd, node 1 keepalived. Phase 1: lvsd has the higher
/// priority; phase 2: keepalived has it.
fn interop(version: u8, advert: &str, interval: Duration) {
    keepalived_present();
    let lan = Lan::new(2);
    let dir = TempDir::new(&format!("vrrp-ka-v{version}"));
    let mdi = |prio: u32| interval * 3 + interval_skew(version, prio, interval);

    // Phase 1: lvsd 150 (master), keepalived 100.
    let mut l = lvsd(&lan, &dir, 0, &conf(&lan, version, advert, 150), "p1");
    let ka = keepalived(&lan, &dir, 1, &conf(&lan, version, advert, 100), "p1");
    wait_until(mdi(150) * 2 + SLACK, || holds_only(&lan, 0))
        .unwrap_or_else(|| panic!("lvsd not master\n{}\n{}", l.output(), ka.output()));
    let dump = tcpdump_adverts(&lan);
    assert!(
        dump.contains(&format!("VRRPv{version}, Advertisement, vrid 51, prio 150")),
        "tcpdump: {dump}"
    );
    assert!(!dump.contains("bad"), "tcpdump: {dump}");
    // keepalived stays backup while lvsd advertises.
    std::thread::sleep(interval * 4);
    assert!(
        holds_only(&lan, 0),
        "keepalived took the VIP: {}",
        ka.output()
    );
    // Crash lvsd: keepalived takes over within its master-down interval.
    l.kill();
    let t = wait_until(mdi(100) + SLACK * 2, || lan.has_addr(1, lan.vip()))
        .unwrap_or_else(|| panic!("keepalived did not take over: {}", ka.output()));
    assert!(t <= mdi(100) + SLACK, "keepalived took {t:?}");
    // lvsd returns and preempts keepalived (after its own down interval).
    let mut l = lvsd(&lan, &dir, 0, &conf(&lan, version, advert, 150), "p1b");
    wait_until(mdi(150) + SLACK * 2, || holds_only(&lan, 0))
        .unwrap_or_else(|| panic!("lvsd did not preempt\n{}\n{}", l.output(), ka.output()));
    // Graceful stop of lvsd: keepalived takes over within its skew.
    std::thread::sleep(interval * 2);
    l.signal(libc::SIGTERM);
    let t = wait_until(interval * 3 + SLACK, || lan.has_addr(1, lan.vip()))
        .unwrap_or_else(|| panic!("no takeover on resignation: {}", ka.output()));
    assert!(
        t <= interval_skew(version, 100, interval) + SLACK,
        "resignation takeover took {t:?}"
    );
    assert!(l.wait_exit(Duration::from_secs(5)));
    drop(ka);
    // keepalived was SIGKILLed by the drop: its VIP may remain; clear it.
    let _ = Command::new("ip")
        .args([
            "-n",
            &lan.ns(1),
            "addr",
            "flush",
            "dev",
            "eth0",
            "label",
            "eth0",
        ])
        .status();
    let _ = Command::new("ip")
        .args([
            "-n",
            &lan.ns(1),
            "addr",
            "add",
            &format!("{}/24", lan.addr(1)),
            "dev",
            "eth0",
        ])
        .status();

    // Phase 2: keepalived 150 (master), lvsd 100.
    let mut ka = keepalived(&lan, &dir, 1, &conf(&lan, version, advert, 150), "p2");
    let l = lvsd(&lan, &dir, 0, &conf(&lan, version, advert, 100), "p2");
    wait_until(mdi(150) * 2 + SLACK, || holds_only(&lan, 1))
        .unwrap_or_else(|| panic!("keepalived not master\n{}\n{}", ka.output(), l.output()));
    std::thread::sleep(interval * 4);
    assert!(holds_only(&lan, 1), "lvsd took the VIP: {}", l.output());
    // keepalived stops gracefully (priority 0): lvsd takes over in skew.
    ka.signal(libc::SIGTERM);
    let start = Instant::now();
    let t = wait_until(interval * 3 + SLACK, || lan.has_addr(0, lan.vip()))
        .unwrap_or_else(|| panic!("lvsd did not take over: {}", l.output()));
    assert!(
        t <= interval_skew(version, 100, interval) + SLACK,
        "lvsd took {t:?} after keepalived's resignation"
    );
    let _ = start;
    assert!(ka.wait_exit(Duration::from_secs(10)));
    // keepalived returns with the higher priority and preempts lvsd.
    let ka = keepalived(&lan, &dir, 1, &conf(&lan, version, advert, 150), "p2b");
    wait_until(mdi(150) + SLACK * 2, || holds_only(&lan, 1)).unwrap_or_else(|| {
        panic!(
            "keepalived did not preempt lvsd\n{}\n{}",
            ka.output(),
            l.output()
        )
    });
    assert!(l.output().contains("MASTER -> BACKUP"), "{}", l.output());
}

fn interval_skew(version: u8, prio: u32, interval: Duration) -> Duration {
    if version == 2 {
        Duration::from_micros(u64::from(256 - prio) * 1_000_000 / 256)
    } else {
        interval * (256 - prio) / 256
    }
}

#[test]
fn keepalived_interop_vrrp_v2() {
    interop(2, "1", Duration::from_secs(1));
}

#[test]
fn keepalived_interop_vrrp_v3() {
    interop(3, "0.3", Duration::from_millis(300));
}
