//! Two (or more) real lvsd processes running VRRP (`lvsd -P`) in network
//! namespaces on a bridge: failover on crash within 3 x interval + skew,
//! make-before-break hand-over on graceful stop, preemption and nopreempt,
//! unicast, track_script weights and FAULT, notify order, and forged
//! adverts that must change nothing. Needs root; runs in `scripts/test`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::netlab::{wait_until, Lan, Proc, TempDir};
use lvsd::vrrp::net::socket::ipv4_header;
use lvsd::vrrp::packet::{Advert, Auth, Version, MCAST_V4};

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

/// Slack for process scheduling and 10 ms polling.
const SLACK: Duration = Duration::from_millis(500);

struct Node<'a> {
    body: &'a str,
}

fn conf(lan: &Lan, priority: u8, extra: &str, node: Node<'_>) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority {priority}\n  {extra}\n  virtual_ipaddress {{\n    {}/24\n  }}\n{}\n}}\n",
        lan.vip(),
        node.body
    )
}

fn start(lan: &Lan, dir: &TempDir, i: usize, text: &str) -> Proc {
    lan.lvsd_vrrp(i, LVSD, dir, &format!("n{i}"), text)
}

/// `lvsd status` of node `i` (human or JSON), with its errors.
fn status(dir: &TempDir, i: usize, json: bool) -> String {
    let sock = dir.path(&format!("n{i}.sock"));
    let mut cmd = std::process::Command::new(LVSD);
    cmd.arg("status").arg("--socket").arg(&sock);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("lvsd status");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn holds_only(lan: &Lan, i: usize) -> bool {
    lan.holders() == vec![i]
}

#[test]
fn crash_failover_preemption_and_make_before_break_stop() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-failover");
    let a_conf = conf(&lan, 150, "advert_int 1", Node { body: "" });
    let b_conf = conf(&lan, 100, "advert_int 1", Node { body: "" });
    let mut a = start(&lan, &dir, 0, &a_conf);
    let _b = start(&lan, &dir, 1, &b_conf);
    // A times out first: 3 + 106/256 s.
    let t = wait_until(Duration::from_secs(6), || holds_only(&lan, 0));
    assert!(
        t.is_some(),
        "A never became the only master: {}",
        a.output()
    );
    // Wait for B to have heard an advert, then crash A.
    std::thread::sleep(Duration::from_millis(1500));
    a.kill();
    let killed = Instant::now();
    let took = wait_until(Duration::from_secs(8), || lan.has_addr(1, lan.vip()))
        .expect("B took over after the crash");
    // At most Master_Down_Interval (3.609 s) after A's last advert.
    assert!(
        took <= Duration::from_micros(3_609_375) + SLACK,
        "crash takeover took {took:?}"
    );
    eprintln!("crash takeover: {took:?} after SIGKILL");
    // The crashed master left its VIP (SIGKILL): it is cleaned at restart.
    let mut a = start(&lan, &dir, 0, &a_conf);
    let pre = wait_until(Duration::from_secs(8), || holds_only(&lan, 0))
        .expect("restarted A preempted B");
    assert!(
        pre >= Duration::from_secs(3),
        "A preempted too early: {pre:?}"
    );
    let _ = killed;
    // Graceful stop: make-before-break. Sample holders every 10 ms: some
    // node always holds the VIP, and B has it within skew (0.609 s) + slack.
    std::thread::sleep(Duration::from_millis(1200));
    a.signal(libc::SIGTERM);
    let stop = Instant::now();
    let mut gap = false;
    let mut b_at = None;
    while stop.elapsed() < Duration::from_secs(5) {
        let h = lan.holders();
        if h.is_empty() {
            gap = true;
        }
        if b_at.is_none() && h.contains(&1) {
            b_at = Some(stop.elapsed());
        }
        if h == vec![1] {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let b_at = b_at.expect("B took over on graceful stop");
    assert!(
        b_at <= Duration::from_micros(609_375) + SLACK,
        "graceful takeover took {b_at:?}"
    );
    assert!(!gap, "the VIP was unowned during the hand-over");
    assert!(a.wait_exit(Duration::from_secs(5)), "A did not exit");
    assert!(holds_only(&lan, 1));
    let out = a.output();
    assert!(out.contains("LEAVING"), "{out}");
    assert!(out.contains("handed over to"), "{out}");
    eprintln!("graceful takeover: {b_at:?}");
}

#[test]
fn nopreempt_keeps_the_running_master_and_unicast_works() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-nopreempt");
    let uni = |me: usize, peer: usize| {
        format!(
            "advert_int 1\n  nopreempt\n  unicast_src_ip {}\n  unicast_peer {{\n    {}\n  }}",
            lan.addr(me),
            lan.addr(peer)
        )
    };
    // B (100) starts alone and becomes master.
    let _b = start(
        &lan,
        &dir,
        1,
        &conf(&lan, 100, &uni(1, 0), Node { body: "" }),
    );
    wait_until(Duration::from_secs(6), || holds_only(&lan, 1)).expect("B master");
    // A (150, nopreempt) joins over unicast and must not take over.
    let a = start(
        &lan,
        &dir,
        0,
        &conf(&lan, 150, &uni(0, 1), Node { body: "" }),
    );
    std::thread::sleep(Duration::from_secs(6));
    assert!(holds_only(&lan, 1), "nopreempt A preempted: {}", a.output());
    assert!(a.output().contains("BACKUP"), "{}", a.output());
    // Unicast carried the adverts: A saw B as master (no takeover by
    // timeout either).
    assert!(!a.output().contains("MASTER"), "{}", a.output());
}

#[test]
fn track_script_weight_lowers_priority_and_weight_zero_faults() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-track");
    let flag = dir.write("healthy", "1");
    let fault_flag = dir.write("nofault", "1");
    let scripts = format!(
        "vrrp_script chk_weight {{\n  script \"/usr/bin/test -e {}\"\n  interval 0.2\n  weight -60\n  fall 1\n  rise 1\n}}\nvrrp_script chk_fault {{\n  script \"/usr/bin/test -e {}\"\n  interval 0.2\n  fall 1\n  rise 1\n}}\n",
        flag.display(),
        fault_flag.display()
    );
    let a_conf = format!(
        "{scripts}{}",
        conf(
            &lan,
            150,
            "version 3\n  advert_int 0.2",
            Node {
                body: "  track_script {\n    chk_weight\n    chk_fault\n  }"
            }
        )
    );
    let b_conf = conf(&lan, 100, "version 3\n  advert_int 0.2", Node { body: "" });
    let a = start(&lan, &dir, 0, &a_conf);
    let _b = start(&lan, &dir, 1, &b_conf);
    wait_until(Duration::from_secs(4), || holds_only(&lan, 0)).expect("A master");
    // 150 - 60 = 90 < 100: B preempts within its master-down interval
    // (3 x 0.2 + skew) after A's first lower advert.
    std::fs::remove_file(&flag).expect("rm flag");
    let t = wait_until(Duration::from_secs(4), || holds_only(&lan, 1))
        .unwrap_or_else(|| panic!("B did not preempt: {}", a.output()));
    eprintln!("weight -60: B master after {t:?}");
    std::fs::write(&flag, "1").expect("restore flag");
    wait_until(Duration::from_secs(4), || holds_only(&lan, 0)).expect("A back");
    // Weight 0 script fails: A goes to FAULT and releases the VIP.
    std::fs::remove_file(&fault_flag).expect("rm fault flag");
    wait_until(Duration::from_secs(4), || holds_only(&lan, 1)).expect("B after fault");
    wait_until(Duration::from_secs(2), || a.output().contains("-> FAULT"))
        .unwrap_or_else(|| panic!("no FAULT: {}", a.output()));
    assert!(
        a.output().contains("vrrp_script chk_fault down"),
        "{}",
        a.output()
    );
}

#[test]
fn notify_scripts_run_in_transition_order_with_keepalived_arguments() {
    let lan = Lan::new(1);
    let dir = TempDir::new("vrrp-notify");
    let out = dir.path("notify.out");
    let script = dir.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$*\" >> {}\n", out.display()),
    );
    let mut perm = std::fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).expect("chmod");
    let s = script.display();
    let body = format!(
        "  notify_master \"{s} specific-master\"\n  notify_backup \"{s} specific-backup\"\n  notify_stop \"{s} specific-stop\"\n  notify {s}"
    );
    let mut a = start(
        &lan,
        &dir,
        0,
        &conf(
            &lan,
            100,
            "version 3\n  advert_int 0.1",
            Node { body: &body },
        ),
    );
    wait_until(Duration::from_secs(3), || holds_only(&lan, 0)).expect("master");
    a.signal(libc::SIGTERM);
    assert!(a.wait_exit(Duration::from_secs(5)));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            "specific-backup",
            "INSTANCE VI_1 BACKUP 100",
            "specific-master",
            "INSTANCE VI_1 MASTER 100",
            "specific-stop",
            "INSTANCE VI_1 STOP 100",
        ],
        "{}",
        a.output()
    );
}

fn forged(lan: &Lan, vrid: u8, prio: u8, ttl: u8, auth: Auth, corrupt: bool) -> Vec<u8> {
    let src = IpAddr::V4(Ipv4Addr::new(10, 77, lan.net, 9));
    let adv = Advert {
        version: Version::V2,
        vrid,
        priority: prio,
        interval_cs: 100,
        auth,
        addrs: vec![IpAddr::V4(lan.vip())],
    };
    let mut msg = adv.encode(src, IpAddr::V4(MCAST_V4), true);
    if corrupt {
        msg[6] ^= 0x55;
    }
    let IpAddr::V4(s4) = src else { unreachable!() };
    let mut pkt = ipv4_header(s4, MCAST_V4, ttl, msg.len()).to_vec();
    pkt.extend_from_slice(&msg);
    pkt
}

#[test]
fn forged_adverts_change_nothing() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-forged");
    let body = "  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }";
    let b = start(
        &lan,
        &dir,
        1,
        &conf(&lan, 100, "advert_int 1", Node { body }),
    );
    wait_until(Duration::from_secs(6), || holds_only(&lan, 1)).expect("B master");
    let good = Auth::pass("s3cret");
    let cases = [
        (
            "TTL 64",
            forged(&lan, 51, 254, 64, good.clone(), false),
            "TTL",
        ),
        (
            "bad checksum",
            forged(&lan, 51, 254, 255, good.clone(), true),
            "checksum",
        ),
        (
            "wrong password",
            forged(&lan, 51, 254, 255, Auth::pass("guess"), false),
            "authentication",
        ),
        (
            "wrong VRID",
            forged(&lan, 52, 254, 255, good.clone(), false),
            "virtual router 52",
        ),
    ];
    for _round in 0..4 {
        for (_, pkt, _) in &cases {
            lan.inject(0, pkt.clone(), MCAST_V4);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(holds_only(&lan, 1), "a forged advert moved the VIP");
    let log = b.output();
    for (what, _, needle) in &cases {
        assert!(log.contains(needle), "no log line for {what}: {log}");
    }
    assert!(!log.contains("MASTER -> BACKUP"), "{log}");
    // The control: a valid higher-priority advert does make B step down,
    // so the injector works and the drops above were real decisions.
    lan.inject(0, forged(&lan, 51, 254, 255, good, false), MCAST_V4);
    wait_until(Duration::from_secs(2), || {
        b.output().contains("MASTER -> BACKUP")
    })
    .unwrap_or_else(|| panic!("valid advert ignored: {}", b.output()));
}

#[test]
fn split_brain_heal_reannounces_at_once() {
    let lan = Lan::new(3);
    let dir = TempDir::new("vrrp-split");
    // No second GARP burst: only the heal may announce.
    let opts = "version 3\n  advert_int 0.2\n  garp_master_delay 0";
    let _a = start(&lan, &dir, 0, &conf(&lan, 150, opts, Node { body: "" }));
    let _b = start(&lan, &dir, 1, &conf(&lan, 100, opts, Node { body: "" }));
    wait_until(Duration::from_secs(4), || holds_only(&lan, 0)).expect("A master");
    // Partition B silently (carrier up): it becomes master too.
    lan.cut(1, true);
    wait_until(Duration::from_secs(4), || lan.holders() == vec![0, 1]).expect("split brain");
    // Host 2 learned B's MAC for the VIP during the partition.
    let (a_mac, b_mac) = (lan.mac(0), lan.mac(1));
    lan.set_neigh(2, lan.vip(), &b_mac);
    // Past the kernel's ARP locktime (1 s), so a GARP may update it.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(lan.neigh(2, lan.vip()).as_deref(), Some(b_mac.as_str()));
    lan.cut(1, false);
    let healed = wait_until(Duration::from_secs(3), || holds_only(&lan, 0)).expect("healed");
    // A re-announced at once: host 2 points at A again, without waiting
    // for its ARP entry to expire.
    let fixed = wait_until(Duration::from_secs(2), || {
        lan.neigh(2, lan.vip()).as_deref() == Some(a_mac.as_str())
    });
    assert!(fixed.is_some(), "host 2 still has B's MAC after the heal");
    eprintln!("split brain healed in {healed:?}; host ARP fixed");
}

#[test]
fn ipv6_vrrpv3_failover() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-v6");
    let vip = format!("fd00:77:{}::100", lan.net);
    let c = |prio: u8| {
        format!(
            "vrrp_instance V6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  priority {prio}\n  advert_int 0.2\n  virtual_ipaddress {{\n    {vip}/64\n  }}\n}}\n"
        )
    };
    let mut a = start(&lan, &dir, 0, &c(150));
    let b = start(&lan, &dir, 1, &c(100));
    let only = |i: usize| lan.has_addr6(i, &vip) && !lan.has_addr6(1 - i, &vip);
    wait_until(Duration::from_secs(4), || only(0))
        .unwrap_or_else(|| panic!("A not master\n{}\n{}", a.output(), b.output()));
    std::thread::sleep(Duration::from_millis(800));
    assert!(only(0), "B took the VIP: {}", b.output());
    a.signal(libc::SIGTERM);
    let t = wait_until(Duration::from_secs(2), || lan.has_addr6(1, &vip))
        .unwrap_or_else(|| panic!("B did not take over: {}", b.output()));
    eprintln!("v6 graceful takeover: {t:?}");
    // Skew at 0.2 s and priority 100: 122 ms.
    assert!(
        t <= Duration::from_millis(122) + SLACK,
        "took {t:?}\n{}\n{}",
        a.output(),
        b.output()
    );
    assert!(a.wait_exit(Duration::from_secs(5)));
    assert!(only(1));
}

#[test]
fn sync_group_members_move_together() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-sync");
    let vip2 = Ipv4Addr::new(10, 77, lan.net, 101);
    let flag = dir.write("ok", "1");
    let group = |prio: u8, track: bool| {
        let track = if track {
            format!(
                "vrrp_script chk {{\n  script \"/usr/bin/test -e {}\"\n  interval 0.2\n}}\n",
                flag.display()
            )
        } else {
            String::new()
        };
        let tref = if track.is_empty() {
            ""
        } else {
            "  track_script {\n    chk\n  }\n"
        };
        format!(
            "{track}vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n\
             vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n  priority {prio}\n  version 3\n  advert_int 0.2\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n\
             vrrp_instance VI_2 {{\n  interface eth0\n  virtual_router_id 52\n  priority {prio}\n  version 3\n  advert_int 0.2\n{tref}  virtual_ipaddress {{\n    {vip2}/24\n  }}\n}}\n",
            lan.vip()
        )
    };
    let a = start(&lan, &dir, 0, &group(150, true));
    let b = start(&lan, &dir, 1, &group(100, false));
    let both = |i: usize| {
        lan.has_addr(i, lan.vip())
            && lan.has_addr(i, vip2)
            && !lan.has_addr(1 - i, lan.vip())
            && !lan.has_addr(1 - i, vip2)
    };
    wait_until(Duration::from_secs(4), || both(0))
        .unwrap_or_else(|| panic!("A not master of both\n{}\n{}", a.output(), b.output()));
    // VI_2's script fails on A: VI_2 goes to FAULT and pulls VI_1 along;
    // B takes both addresses.
    std::fs::remove_file(&flag).expect("rm");
    wait_until(Duration::from_secs(4), || both(1))
        .unwrap_or_else(|| panic!("B did not take both\n{}\n{}", a.output(), b.output()));
    let out = a.output();
    assert!(out.contains("VRRP VI_1: MASTER -> FAULT"), "{out}");
    assert!(out.contains("sync group G"), "{out}");
    // Recovery: A preempts with both.
    std::fs::write(&flag, "1").expect("restore");
    wait_until(Duration::from_secs(4), || both(0))
        .unwrap_or_else(|| panic!("A did not return\n{}\n{}", a.output(), b.output()));
}

#[test]
fn virtual_routes_follow_the_master() {
    let lan = Lan::new(1);
    let dir = TempDir::new("vrrp-routes");
    let body = format!(
        "  virtual_routes {{\n    192.168.77.0/24 via 10.77.{}.254\n    blackhole 10.99.0.0/16\n  }}",
        lan.net
    );
    let mut a = start(
        &lan,
        &dir,
        0,
        &conf(
            &lan,
            100,
            "version 3\n  advert_int 0.1",
            Node { body: &body },
        ),
    );
    let routes = || {
        let o = std::process::Command::new("ip")
            .args(["-n", &lan.ns(0), "route", "show"])
            .output()
            .expect("ip route");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    wait_until(Duration::from_secs(3), || holds_only(&lan, 0)).expect("master");
    wait_until(Duration::from_secs(1), || {
        let r = routes();
        r.contains("192.168.77.0/24 via") && r.contains("blackhole 10.99.0.0/16")
    })
    .unwrap_or_else(|| panic!("routes missing: {}\n{}", routes(), a.output()));
    a.signal(libc::SIGTERM);
    assert!(a.wait_exit(Duration::from_secs(5)));
    let r = routes();
    assert!(
        !r.contains("192.168.77.0") && !r.contains("10.99.0.0"),
        "{r}"
    );
}

#[test]
fn use_vmac_answers_with_the_virtual_mac_on_both_nodes() {
    let lan = Lan::new(3);
    let dir = TempDir::new("vrrp-vmac");
    let opts = "version 3\n  advert_int 0.2";
    let body = "  use_vmac";
    let mut a = start(&lan, &dir, 0, &conf(&lan, 150, opts, Node { body }));
    let b = start(&lan, &dir, 1, &conf(&lan, 100, opts, Node { body }));
    let vmac = "00:00:5e:00:01:33";
    let on_vmac = |i: usize| {
        std::process::Command::new("ip")
            .args(["-n", &lan.ns(i), "-br", "addr", "show", "dev", "vrrp.51"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {}/", lan.vip())))
            .unwrap_or(false)
    };
    wait_until(Duration::from_secs(4), || on_vmac(0))
        .unwrap_or_else(|| panic!("A has no VIP on vrrp.51\n{}\n{}", a.output(), b.output()));
    // Host 2 resolves the VIP: the answer is the virtual MAC.
    let resolve = || {
        let _ = std::process::Command::new("ip")
            .args(["netns", "exec", &lan.ns(2), "bash", "-c"])
            .arg(format!("echo x > /dev/udp/{}/9", lan.vip()))
            .status();
        lan.neigh(2, lan.vip())
    };
    let mac = wait_until(Duration::from_secs(2), || resolve().is_some()).map(|_| resolve());
    assert_eq!(mac.flatten().as_deref(), Some(vmac), "{}", a.output());
    // Failover: B holds the VIP on its own vrrp.51 with the same MAC.
    a.signal(libc::SIGTERM);
    wait_until(Duration::from_secs(3), || on_vmac(1) && !on_vmac(0))
        .unwrap_or_else(|| panic!("B did not take over\n{}", b.output()));
    let _ = std::process::Command::new("ip")
        .args(["-n", &lan.ns(2), "neigh", "flush", "dev", "eth0"])
        .status();
    let mac = wait_until(Duration::from_secs(2), || resolve().is_some()).map(|_| resolve());
    assert_eq!(mac.flatten().as_deref(), Some(vmac), "{}", b.output());
    assert!(a.wait_exit(Duration::from_secs(5)));
    // A removed its macvlan on the way out.
    assert!(lan.mac_of(0, "vrrp.51").is_none_or(|m| m.is_empty()));
}

#[test]
fn reload_applies_changes_without_transitions_and_refuses_broken_configs() {
    let lan = Lan::new(2);
    let dir = TempDir::new("vrrp-reload");
    let vip2 = Ipv4Addr::new(10, 77, lan.net, 101);
    let opts = "version 3\n  advert_int 0.2";
    let a = start(&lan, &dir, 0, &conf(&lan, 150, opts, Node { body: "" }));
    let b = start(&lan, &dir, 1, &conf(&lan, 100, opts, Node { body: "" }));
    wait_until(Duration::from_secs(4), || holds_only(&lan, 0)).expect("A master");
    let transitions = |p: &Proc| p.output().matches(" -> ").count();
    let before = transitions(&a);
    // A second VIP and a new priority: applied in place, still MASTER.
    let c2 = conf(&lan, 200, opts, Node { body: "" }).replace(
        &format!("    {}/24\n", lan.vip()),
        &format!("    {}/24\n    {vip2}/24\n", lan.vip()),
    );
    dir.write("n0.conf", &c2);
    a.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(3), || lan.has_addr(0, vip2))
        .unwrap_or_else(|| panic!("new VIP not added: {}", a.output()));
    assert!(holds_only(&lan, 0));
    assert_eq!(
        transitions(&a),
        before,
        "reload caused a transition: {}",
        a.output()
    );
    // A broken config changes nothing.
    dir.write("n0.conf", "vrrp_instance VI_1 {\n  virtual_router_id 300\n");
    a.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(2), || {
        a.output().contains("reload refused")
    })
    .unwrap_or_else(|| panic!("no refusal: {}", a.output()));
    std::thread::sleep(Duration::from_millis(600));
    assert!(holds_only(&lan, 0) && lan.has_addr(0, vip2));
    // `lvsd status` over the control socket says what and why.
    let st = status(&dir, 0, false);
    assert!(
        st.contains("vrrp VI_1 (vrid 51 on eth0): MASTER priority 200"),
        "{st}"
    );
    let st = status(&dir, 1, true);
    assert!(
        st.contains("\"state\": \"BACKUP\"") && st.contains("\"priority\": 100"),
        "{st}"
    );
    assert!(
        st.contains("(priority 200)"),
        "B heard the new priority: {st}"
    );
    // The instance removed from A's config: A resigns, B takes over at once.
    dir.write("n0.conf", "global_defs {\n  router_id A\n}\n");
    a.signal(libc::SIGHUP);
    let t = wait_until(Duration::from_secs(3), || holds_only(&lan, 1))
        .unwrap_or_else(|| panic!("B did not take over: {}\n{}", a.output(), b.output()));
    // Skew at 0.2 s, priority 100: 122 ms.
    assert!(t <= Duration::from_millis(122) + SLACK, "took {t:?}");
    assert!(!lan.has_addr(0, vip2), "A kept the removed VIP");
}

#[test]
fn sync_group_takes_every_vip_before_the_state_hook() {
    use lvsd::vrrp::engine::{Engine, StateHook, VrrpCommand};
    use lvsd::vrrp::fsm::State;
    use std::os::fd::AsRawFd;
    use std::sync::{Arc, Mutex};

    let lan = Lan::new(1);
    let dir = TempDir::new("vrrp-hook");
    let vip2 = Ipv4Addr::new(10, 77, lan.net, 101);
    let inst = |name: &str, vrid: u8, vip: Ipv4Addr| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority 100\n  version 3\n  advert_int 0.1\n  virtual_ipaddress {{\n    {vip}/24\n  }}\n}}\n"
        )
    };
    let text = format!(
        "vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n{}{}",
        inst("VI_1", 51, lan.vip()),
        inst("VI_2", 52, vip2)
    );
    let path = dir.write("hook.conf", &text);
    let loaded = lvsd::cli::load(&path, None, false);
    assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics());

    // At each Master transition: which VIPs the node holds.
    type Seen = Arc<Mutex<Vec<(String, Vec<bool>)>>>;
    struct Probe {
        ns: String,
        vips: Vec<Ipv4Addr>,
        seen: Seen,
    }
    impl StateHook for Probe {
        fn on_state(&mut self, instance: &str, state: State) -> Option<String> {
            if state == State::Master {
                let out = std::process::Command::new("ip")
                    .args(["-n", &self.ns, "-br", "addr", "show", "dev", "eth0"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                let held = self
                    .vips
                    .iter()
                    .map(|v| out.contains(&format!(" {v}/")))
                    .collect();
                self.seen.lock().unwrap().push((instance.to_string(), held));
            }
            None
        }
    }
    let seen: Seen = Arc::default();
    let probe = Probe {
        ns: lan.ns(0),
        vips: vec![lan.vip(), vip2],
        seen: seen.clone(),
    };
    let nspath = format!("/run/netns/{}", lan.ns(0));
    let cfg = loaded.config;
    let engine_thread = std::thread::spawn(move || {
        let f = std::fs::File::open(&nspath).expect("netns");
        // SAFETY: setns on this thread only; the fd is valid.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
            let (engine, _status) =
                Engine::new(cfg, ev_tx, Some(Box::new(probe))).expect("engine");
            let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
            let task = tokio::spawn(engine.run(cmd_rx));
            // Alone on the link: both go Master after 3 x 0.1 s + skew.
            let end = tokio::time::Instant::now() + Duration::from_secs(5);
            let mut masters = 0;
            while masters < 2 {
                tokio::select! {
                    ev = ev_rx.recv() => {
                        if let Some(lvsd::vrrp::engine::VrrpEvent::Transition { to: State::Master, .. }) = ev {
                            masters += 1;
                        }
                    }
                    _ = tokio::time::sleep_until(end) => break,
                }
            }
            // Let the hooks of this round run, then stop.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = cmd_tx.send(VrrpCommand::Shutdown { graceful: false });
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        });
    });
    engine_thread.join().expect("engine thread");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "two Master transitions expected: {seen:?}");
    for (inst, held) in &seen {
        assert_eq!(
            held,
            &vec![true, true],
            "{inst} went Master before every VIP of its sync group was in place: {seen:?}"
        );
    }
}
