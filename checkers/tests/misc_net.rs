//! Real-socket / real-process tests for MISC, SMTP, DNS, UDP, PING, FILE.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvsd_checkers::check::Check;
use lvsd_checkers::conn::ConnOptions;
use lvsd_checkers::dns::{DnsCheck, DnsSpec, RrType};
use lvsd_checkers::file::{FileCheck, FileSpec};
use lvsd_checkers::misc::{MiscCheck, MiscSpec};
use lvsd_checkers::ping::{PingCheck, PingSpec};
use lvsd_checkers::smtp::{SmtpCheck, SmtpSpec};
use lvsd_checkers::udp::{ReplyPattern, UdpCheck, UdpSpec};
use lvsd_checkers::Verdict;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn conn(a: SocketAddr, t: f64) -> ConnOptions {
    ConnOptions::new(a, Duration::from_secs_f64(t))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lvsd-chk-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn misc(cmd: &str, timeout: f64, dynamic: bool, security: bool) -> MiscSpec {
    MiscSpec {
        misc_path: cmd.into(),
        misc_timeout: Duration::from_secs_f64(timeout),
        misc_dynamic: dynamic,
        user: None,
        group: None,
        script_user: None,
        rs_weight: 5,
        script_security: security,
    }
}

#[tokio::test]
async fn misc_exit_codes() {
    let c = MiscCheck::new(misc("/bin/sh -c 'exit 1'", 5.0, false, false)).unwrap();
    assert!(!c.attempt().await.verdict.is_pass());
    let c = MiscCheck::new(misc("/bin/sh -c 'exit 0'", 5.0, false, false)).unwrap();
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    // exit 7, weight 5, dynamic: new weight 7-2 = 5 → delta 0
    let c = MiscCheck::new(misc("/bin/sh -c 'exit 7'", 5.0, true, false)).unwrap();
    assert_eq!(c.attempt().await.verdict, Verdict::PassWithWeight(0));
}

#[tokio::test]
async fn misc_timeout_kills_group() {
    let d = tmp("misc-hang");
    let pidf = d.join("pid");
    let cmd = format!("/bin/sh -c 'sleep 30 & echo $! > {}; wait'", pidf.display());
    let c = MiscCheck::new(misc(&cmd, 1.0, true, false)).unwrap();
    let t0 = Instant::now();
    let o = c.attempt().await;
    let el = t0.elapsed();
    match &o.verdict {
        Verdict::Fail(r) => assert!(r.contains("timed out after 1s"), "{r}"),
        v => panic!("{v:?}"),
    }
    assert!(
        el >= Duration::from_millis(900) && el < Duration::from_millis(3600),
        "{el:?}"
    );
    let pid: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // gone, or a zombie awaiting a reaper (container PID 1 may not reap)
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let alive = !stat.is_empty() && !stat.contains(") Z ");
    let _ = std::fs::remove_dir_all(&d);
    assert!(!alive, "grandchild {pid} survived");
}

#[tokio::test]
async fn misc_security() {
    let d = tmp("misc-sec");
    let s = d.join("s.sh");
    std::fs::write(&s, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = lvsd_checkers::misc::check_script_security(&s, 0);
    let missing = lvsd_checkers::misc::check_script_security(&d.join("nope"), 0);
    let _ = std::fs::remove_dir_all(&d);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("s.sh") && e.contains("777"), "{e}");
    assert!(missing.unwrap_err().to_string().contains("not found"));
}

async fn smtp_server(banner: &'static str) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((s, _)) = l.accept().await {
            let mut r = BufReader::new(s);
            r.get_mut().write_all(banner.as_bytes()).await.unwrap();
            let mut line = String::new();
            while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                if line.starts_with("HELO") {
                    r.get_mut()
                        .write_all(b"250-hi\r\n250 ok\r\n")
                        .await
                        .unwrap();
                } else if line.starts_with("QUIT") {
                    r.get_mut().write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                line.clear();
            }
        }
    });
    a
}

#[tokio::test]
async fn smtp() {
    let a = smtp_server("220-one\r\n220-two\r\n220 ready\r\n").await;
    let c = SmtpCheck::new(SmtpSpec {
        conn: conn(a, 2.0),
        helo_name: None,
    });
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    let a = smtp_server("554 go away\r\n").await;
    let c = SmtpCheck::new(SmtpSpec {
        conn: conn(a, 2.0),
        helo_name: None,
    });
    match c.attempt().await.verdict {
        Verdict::Fail(r) => assert!(r.contains("banner 554 go away"), "{r}"),
        v => panic!("{v:?}"),
    }
}

/// mode: 0 good, 1 NXDOMAIN, 2 wrong id, 3 empty answer
async fn dns_server(mode: u8) -> SocketAddr {
    let s = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let a = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 512];
        if let Ok((n, from)) = s.recv_from(&mut b).await {
            let mut r = b[..n].to_vec();
            r[2] = 0x81;
            r[3] = if mode == 1 { 0x83 } else { 0x80 };
            if mode == 2 {
                r[0] ^= 0xff;
            }
            if mode != 3 && mode != 1 {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
            }
            let _ = s.send_to(&r, from).await;
        }
    });
    a
}

#[tokio::test]
async fn dns() {
    for (mode, pass) in [(0u8, true), (1, false), (2, false), (3, false)] {
        let a = dns_server(mode).await;
        let mut spec = DnsSpec::new(conn(a, 2.0));
        spec.rr_type = RrType::A;
        spec.name = "example.org".into();
        let t = Instant::now();
        let v = DnsCheck::new(spec).attempt().await.verdict;
        assert_eq!(v.is_pass(), pass, "mode {mode}: {v:?}");
        // Judged on the reply's arrival, well before connect_timeout (2 s).
        assert!(t.elapsed() < Duration::from_millis(700), "mode {mode}");
    }
}

#[tokio::test]
async fn udp() {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 512];
        while let Ok((n, from)) = s.recv_from(&mut b).await {
            let _ = s.send_to(&b[..n], from).await;
        }
    });
    let mut spec = UdpSpec::new(conn(a, 2.0));
    spec.payload = Some(b"AB".to_vec());
    spec.require_reply = Some(ReplyPattern::parse("41x2").unwrap());
    assert_eq!(UdpCheck::new(spec).attempt().await.verdict, Verdict::Pass);
    // closed port: ICMP port unreachable → fail
    let closed = {
        let t = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        t.local_addr().unwrap()
    };
    let v = UdpCheck::new(UdpSpec::new(conn(closed, 2.0)))
        .attempt()
        .await
        .verdict;
    assert!(!v.is_pass(), "{v:?}");
}

#[tokio::test]
async fn ping_loopback() {
    // Passes whatever net.ipv4.ping_group_range says: the datagram socket,
    // or (as root) the raw fallback.
    let c = PingCheck::new(PingSpec {
        conn: conn("127.0.0.1:0".parse().unwrap(), 2.0),
    });
    let t = Instant::now();
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    assert!(
        t.elapsed() < Duration::from_millis(700),
        "echo reply awaited"
    );
    let c6 = PingCheck::new(PingSpec {
        conn: conn("[::1]:0".parse().unwrap(), 2.0),
    });
    assert_eq!(c6.attempt().await.verdict, Verdict::Pass);
}

#[tokio::test]
async fn ping_loopback_raw_fallback() {
    // With the datagram socket refused to every group, root still pings.
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("ping_loopback_raw_fallback: needs root, skipped");
        return;
    }
    let saved = std::fs::read_to_string(lvsd_checkers::ping::PING_GROUP_RANGE).unwrap();
    std::fs::write(lvsd_checkers::ping::PING_GROUP_RANGE, "1 0\n").unwrap();
    let c = PingCheck::new(PingSpec {
        conn: conn("127.0.0.1:0".parse().unwrap(), 2.0),
    });
    let v = c.attempt().await.verdict;
    std::fs::write(lvsd_checkers::ping::PING_GROUP_RANGE, saved).unwrap();
    assert_eq!(v, Verdict::Pass);
}

#[tokio::test]
async fn file_watch() {
    let d = tmp("file");
    let p = d.join("track");
    let c = FileCheck::new(FileSpec {
        name: "t".into(),
        path: p.clone(),
        weight: 2,
        reverse: false,
        init_file: Some((0, true)),
    })
    .unwrap();
    assert_eq!(c.attempt().await.verdict, Verdict::PassWithWeight(0));
    let mut rx = c.watch().unwrap();
    std::fs::write(&p, "0x10\n").unwrap();
    let r = tokio::time::timeout(Duration::from_secs(2), rx.changed()).await;
    let v1 = rx.borrow().clone();
    // replace by rename
    std::fs::write(d.join("new"), "-2147483648").unwrap();
    std::fs::rename(d.join("new"), &p).unwrap();
    let r2 = tokio::time::timeout(Duration::from_secs(2), rx.changed()).await;
    let v2 = rx.borrow().clone();
    let _ = std::fs::remove_dir_all(&d);
    assert!(r.is_ok() && r2.is_ok());
    assert_eq!(v1, Verdict::PassWithWeight(32));
    assert!(!v2.is_pass(), "{v2:?}");
}
