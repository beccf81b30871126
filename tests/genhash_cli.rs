//! `lvsd genhash` against `keepalived --genhash` (Debian's 2.2.7) on local
//! servers: the same digest line, and the same verbose dump (the measured
//! response time aside), for every framing the issue lists (Content-Length,
//! lowercase `content-length`, chunked, close-delimited), the edge cases of
//! keepalived's Content-Length reading, empty and failed exchanges, and
//! TLS (`-S`, with and without `-I`, with and without close_notify).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A plain server answering `n` connections with `reply`, then closing.
fn serve(reply: &'static [u8], n: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            // One write: keepalived dumps per read, so the whole reply must
            // come in one segment for the dumps to be comparable.
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

fn ours(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("genhash")
        .args(args)
        .output()
        .unwrap()
}

fn theirs(args: &[&str]) -> Output {
    Command::new("keepalived")
        .arg("--genhash")
        .args(args)
        .output()
        .expect("keepalived 2.2.7 must be installed (scripts/install-deps)")
}

/// Runs both with `args` (and with `-v` added) and compares stdout (the
/// response time normalised) and stderr; returns keepalived's plain stdout.
fn compare(args: &[&str], what: &str) -> String {
    let mut plain = String::new();
    for verbose in [false, true] {
        let mut args = args.to_vec();
        if verbose {
            args.push("-v");
        }
        let o = ours(&args);
        let t = theirs(&args);
        assert_eq!(
            normalize(&o.stdout),
            normalize(&t.stdout),
            "{what}, verbose={verbose}: stdout"
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&t.stderr),
            "{what}, verbose={verbose}: stderr"
        );
        assert_eq!(o.status.code(), t.status.code(), "{what}: exit status");
        assert!(
            !o.stdout.is_empty() || !o.stderr.is_empty(),
            "{what}: printed nothing"
        );
        if !verbose {
            plain = String::from_utf8_lossy(&t.stdout).into_owned();
        }
    }
    plain
}

fn md5_line(data: &[u8]) -> String {
    format!("{}\n", lvsd_checkers::http::response::md5_hex(data))
}

#[test]
fn same_digest_and_dump_as_keepalived() {
    let reply: &[u8] =
        b"HTTP/1.0 200 OK\r\nServer: test\r\nContent-Length: 17\r\n\r\nhello world 1234\n";
    let port = serve(reply, 4).to_string();
    let out = compare(&["-s", "127.0.0.1", "-p", &port, "-u", "/index.html"], "CL");
    assert_eq!(out, md5_line(b"hello world 1234\n"));
}

/// A 5000-byte header: no blank line within keepalived's 4095-byte buffer.
static HUGE_HEADER: [u8; 5006] = padded_header::<5006>();
/// A 4000-byte header with its blank line inside the buffer, then a body.
static LONG_HEADER: [u8; 4004] = padded_header::<4004>();

/// `HTTP/1.0 200 OK`, `X-Pad: aaa…` up to N-8 bytes, a blank line, `body`.
const fn padded_header<const N: usize>() -> [u8; N] {
    let mut b = [b'a'; N];
    let start = b"HTTP/1.0 200 OK\r\nX-Pad: ";
    let mut i = 0;
    while i < start.len() {
        b[i] = start[i];
        i += 1;
    }
    let end = b"\r\n\r\nbody";
    let mut j = 0;
    while j < end.len() {
        b[N - end.len() + j] = end[j];
        j += 1;
    }
    b
}

/// (what, the reply, what keepalived hashes: None when it prints no digest)
type Case = (&'static str, &'static [u8], Option<&'static [u8]>);

#[test]
fn every_framing_matches_keepalived() {
    let cases: &[Case] = &[
        (
            "Content-Length shorter than the body",
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
            Some(b"hello"),
        ),
        (
            "lowercase content-length (ignored)",
            b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhelloEXTRA",
            Some(b"helloEXTRA"),
        ),
        (
            "chunked (framing hashed)",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            Some(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        ),
        (
            "no length, close-delimited",
            b"HTTP/1.0 200 OK\r\nServer: t\r\n\r\nclose-delimited body\nline 2\n",
            Some(b"close-delimited body\nline 2\n"),
        ),
        (
            "Content-Length: 0",
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            Some(b""),
        ),
        (
            "Content-Length with trailing junk (ignored by 2.2.7)",
            b"HTTP/1.0 200 OK\r\nContent-Length: 3 \r\n\r\nhello",
            Some(b"hello"),
        ),
        (
            "Content-Length without a value (read as 0)",
            b"HTTP/1.0 200 OK\r\nContent-Length:\r\n\r\nhello",
            Some(b""),
        ),
        (
            "Content-Length text in the first body bytes",
            b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nhello\r\nContent-Length: 3\r\nworld",
            Some(b"hel"),
        ),
        (
            "404 (status not part of the hash)",
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
            Some(b"not found"),
        ),
        (
            "header without its blank line",
            b"HTTP/1.0 200 OK\r\nServer: x\r\n",
            None,
        ),
        ("nothing sent", b"", None),
        (
            "header longer than keepalived's 4 KiB buffer",
            &HUGE_HEADER,
            None,
        ),
        (
            "header just inside keepalived's buffer",
            &LONG_HEADER,
            Some(b"body"),
        ),
    ];
    for (what, reply, hashed) in cases {
        let port = serve(reply, 8).to_string();
        for proto in ["1.0", "1.1"] {
            let out = compare(
                &["-s", "127.0.0.1", "-p", &port, "-u", "/x", "-P", proto],
                what,
            );
            match hashed {
                Some(h) => assert_eq!(out, md5_line(h), "{what}"),
                None => assert_eq!(out, "", "{what}"),
            }
        }
    }
}

#[test]
fn refused_and_silent_servers_print_what_keepalived_prints() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let port = closed.to_string();
    let out = compare(&["-s", "127.0.0.1", "-p", &port, "-u", "/x"], "refused");
    assert_eq!(out, "Connection failed\n");

    // Accepts and never answers: keepalived's read timeout (-t 1).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..4 {
            let Ok((s, _)) = l.accept() else { return };
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    let out = compare(
        &["-s", "127.0.0.1", "-p", &port, "-u", "/x", "-t", "1"],
        "silent",
    );
    assert_eq!(out, "Timeout WEB read\n");
}

type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// A rustls server (self-signed certificate made here) answering `n`
/// connections with `reply`; with `close_notify` it ends the session
/// cleanly, else it just closes the TCP connection. Records the SNI of
/// each connection.
fn serve_tls(reply: &'static [u8], close_notify: bool, n: usize) -> (u16, Seen) {
    let ck = rcgen::generate_simple_self_signed(vec!["www.example".to_string()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((tcp, _)) = l.accept() else { return };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(conn) = rustls::ServerConnection::new(cfg.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut buf = [0u8; 2048];
            if tls.read(&mut buf).is_err() {
                log.lock().unwrap().push(Some("<handshake failed>".into()));
                continue;
            }
            log.lock()
                .unwrap()
                .push(tls.conn.server_name().map(str::to_string));
            let _ = tls.write_all(reply);
            if close_notify {
                tls.conn.send_close_notify();
            }
            let _ = tls.flush();
            let _ = tls.sock.shutdown(std::net::Shutdown::Write);
            // Wait for the client to close so that our close is a FIN,
            // not a reset (bounded by the read timeout).
            let mut rest = [0u8; 512];
            while matches!(tls.sock.read(&mut rest), Ok(n) if n > 0) {}
        }
    });
    (port, seen)
}

#[test]
fn tls_matches_keepalived_with_and_without_sni_and_close_notify() {
    let cases: &[(&str, &'static [u8], &[u8])] = &[
        (
            "TLS Content-Length",
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
            b"hello",
        ),
        (
            "TLS chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "TLS close-delimited",
            b"HTTP/1.0 200 OK\r\nServer: t\r\n\r\nclose-delimited body\n",
            b"close-delimited body\n",
        ),
    ];
    for (what, reply, hashed) in cases {
        for close_notify in [true, false] {
            let (port, seen) = serve_tls(reply, close_notify, 8);
            let port = port.to_string();
            let what = format!("{what}, close_notify={close_notify}");
            let base = ["-S", "-s", "127.0.0.1", "-p", &port, "-u", "/x"];
            // -V alone: Host header only, no SNI.
            let mut args = base.to_vec();
            args.extend(["-V", "www.example"]);
            assert_eq!(compare(&args, &what), md5_line(hashed), "{what}");
            // -I: the -V host as SNI.
            args.push("-I");
            assert_eq!(compare(&args, &what), md5_line(hashed), "{what} -I");
            let seen = seen.lock().unwrap().clone();
            let sni = Some("www.example".to_string());
            assert_eq!(
                seen,
                vec![
                    None,
                    None,
                    None,
                    None,
                    sni.clone(),
                    sni.clone(),
                    sni.clone(),
                    sni
                ],
                "{what}: SNI per connection (ours, keepalived's, alternating)"
            );
        }
    }
}

#[test]
fn tls_handshake_failure_matches_keepalived() {
    // A plain HTTP server spoken to with -S.
    let port = serve(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 4).to_string();
    let out = compare(
        &["-S", "-s", "127.0.0.1", "-p", &port, "-u", "/x"],
        "TLS to plain",
    );
    assert_eq!(out, "SSL handshake/communication error connecting to\n");
}

#[test]
fn sni_flag_takes_no_value() {
    // keepalived's -I is a flag; a value after it is an error for both.
    let o = ours(&[
        "-S",
        "-I",
        "www.example",
        "-s",
        "127.0.0.1",
        "-p",
        "1",
        "-u",
        "/",
    ]);
    assert!(!o.status.success());
    let t = theirs(&[
        "-S",
        "-I",
        "www.example",
        "-s",
        "127.0.0.1",
        "-p",
        "1",
        "-u",
        "/",
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&t.stdout),
        String::from_utf8_lossy(&t.stderr)
    );
    assert!(said.contains("Unexpected argument"), "{said}");
}
