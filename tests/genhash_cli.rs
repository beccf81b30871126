//! `lvsd genhash` against `keepalived --genhash` (Debian's 2.2.7) on a local
//! server: the same digest, and the same verbose dump (timestamps and the
//! measured response time aside).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

fn serve(reply: &'static [u8], n: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    port
}

fn normalize(s: &[u8]) -> String {
    String::from_utf8_lossy(s)
        .lines()
        .map(|l| {
            if l.starts_with("Global response time") {
                "Global response time".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn same_digest_and_dump_as_keepalived() {
    let reply: &[u8] =
        b"HTTP/1.0 200 OK\r\nServer: test\r\nContent-Length: 17\r\n\r\nhello world 1234\n";
    let port = serve(reply, 4).to_string();
    for verbose in [false, true] {
        let mut args = vec!["-s", "127.0.0.1", "-p", &port, "-u", "/index.html"];
        if verbose {
            args.push("-v");
        }
        let ours = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg("genhash")
            .args(&args)
            .output()
            .unwrap();
        let theirs = Command::new("keepalived")
            .arg("--genhash")
            .args(&args)
            .output()
            .expect("keepalived 2.2.7 must be installed (scripts/install-deps)");
        assert_eq!(
            normalize(&ours.stdout),
            normalize(&theirs.stdout),
            "verbose={verbose}"
        );
        assert!(!ours.stdout.is_empty());
    }
}
