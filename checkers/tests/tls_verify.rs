//! SSL_GET TLS against a real rustls server on 127.0.0.1 with a CA and
//! certificates generated at test time: keepalived's default (no
//! verification), lvsd's optional verification (right CA, wrong CA,
//! hostname mismatch, IP address name) and client certificates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lvsd_checkers::http::tls::insecure_config;
use lvsd_checkers::http::tls_options::{client_config, TlsError, TlsOptions};
use lvsd_checkers::http::{HttpCheck, HttpVersion, TlsSpec, UrlSpec};
use lvsd_checkers::{Check, ConnOptions, Verdict};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// A leaf certificate for `dns` names and 127.0.0.1, signed by `ca`.
fn leaf(
    ca: &Ca,
    dns: &[&str],
) -> (
    CertificateDer<'static>,
    PrivateKeyDer<'static>,
    String,
    String,
) {
    let mut p =
        CertificateParams::new(dns.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let key_pem = key.serialize_pem();
    (
        cert.der().clone(),
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap(),
        cert.pem(),
        key_pem,
    )
}

/// Temporary directory removed on drop (also when a test fails).
struct TmpDir(PathBuf);
impl TmpDir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("lvsd-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}
impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TLS server answering `200 OK` to up to 20 connections; with
/// `client_ca`, it requires a client certificate signed by it.
async fn tls_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<CertificateDer<'static>>,
) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let b = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).unwrap();
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            b.with_client_cert_verifier(v)
        }
        None => b.with_no_client_auth(),
    };
    let cfg = b.with_single_cert(vec![cert], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((s, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut t) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = t.read(&mut buf).await;
                let _ = t
                    .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                let _ = t.shutdown().await;
            });
        }
    });
    addr
}

fn ssl_get(addr: SocketAddr, tls: TlsSpec) -> HttpCheck {
    let deadline = Duration::from_secs(3);
    HttpCheck {
        conn: ConnOptions::new(addr, deadline),
        urls: vec![UrlSpec {
            path: "/".into(),
            digest: None,
            status: vec![],
            host: addr.to_string(),
            regex: None,
            regex_no_match: false,
        }],
        version: HttpVersion::Http10,
        tls: Some(tls),
        deadline,
        fast_recovery: false,
    }
}

fn verifying(ca: &Path, sni: Option<&str>) -> TlsSpec {
    let opts = TlsOptions {
        verify_ca: Some(ca.to_path_buf()),
        send_sni: sni.is_some(),
        ..TlsOptions::default()
    };
    TlsSpec {
        config: client_config(&opts).unwrap(),
        sni: sni.map(str::to_string),
        verify_ca: Some(ca.to_path_buf()),
    }
}

fn reason(v: Verdict) -> String {
    match v {
        Verdict::Fail(r) => r,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn verification_passes_with_the_right_ca_by_name_and_by_ip() {
    let dir = TmpDir::new("ok");
    let root = ca("lvsd test CA");
    let ca_file = dir.write("ca.pem", &root.cert.pem());
    let (cert, key, _, _) = leaf(&root, &["rs1.example"]);
    let addr = tls_server(cert, key, None).await;
    let v = ssl_get(addr, verifying(&ca_file, Some("rs1.example")))
        .attempt()
        .await
        .verdict;
    assert_eq!(v, Verdict::Pass);
    // No name: the target IP address must be in the certificate.
    let v = ssl_get(addr, verifying(&ca_file, None))
        .attempt()
        .await
        .verdict;
    assert_eq!(v, Verdict::Pass);
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_with_a_clear_reason() {
    let dir = TmpDir::new("wrongca");
    let root = ca("lvsd test CA");
    let other = ca("some other CA");
    let other_file = dir.write("other.pem", &other.cert.pem());
    let (cert, key, _, _) = leaf(&root, &["rs1.example"]);
    let addr = tls_server(cert, key, None).await;
    let r = reason(
        ssl_get(addr, verifying(&other_file, Some("rs1.example")))
            .attempt()
            .await
            .verdict,
    );
    let want = format!(
        "TLS handshake: server certificate is not signed by the CA in {}",
        other_file.display()
    );
    assert!(r.ends_with(&want), "{r}");
    assert!(r.starts_with(&format!("SSL_GET https://{addr}/:")), "{r}");
}

#[tokio::test]
async fn a_hostname_mismatch_fails() {
    let dir = TmpDir::new("name");
    let root = ca("lvsd test CA");
    let ca_file = dir.write("ca.pem", &root.cert.pem());
    let (cert, key, _, _) = leaf(&root, &["rs1.example"]);
    let addr = tls_server(cert, key, None).await;
    let r = reason(
        ssl_get(addr, verifying(&ca_file, Some("rs2.example")))
            .attempt()
            .await
            .verdict,
    );
    assert!(
        r.contains("server certificate is not valid for rs2.example"),
        "{r}"
    );
    assert!(r.contains("rs1.example"), "presented names shown: {r}");
}

#[tokio::test]
async fn without_verification_any_certificate_passes_as_in_keepalived() {
    let root = ca("untrusted");
    let (cert, key, _, _) = leaf(&root, &["nobody.example"]);
    let addr = tls_server(cert, key, None).await;
    let tls = TlsSpec {
        config: insecure_config().unwrap(),
        sni: Some("wrong.example".into()),
        verify_ca: None,
    };
    assert_eq!(ssl_get(addr, tls).attempt().await.verdict, Verdict::Pass);
}

#[tokio::test]
async fn the_client_certificate_is_presented_when_configured() {
    let dir = TmpDir::new("client");
    let root = ca("lvsd test CA");
    let (srv_cert, srv_key, _, _) = leaf(&root, &["rs1.example"]);
    let (_, _, cli_pem, cli_key_pem) = leaf(&root, &["client.example"]);
    let cert_file = dir.write("client.pem", &cli_pem);
    let key_file = dir.write("client.key", &cli_key_pem);
    let addr = tls_server(srv_cert, srv_key, Some(root.cert.der().clone())).await;

    // Without a client certificate the server refuses the handshake.
    let bare = TlsSpec {
        config: insecure_config().unwrap(),
        sni: None,
        verify_ca: None,
    };
    let v = ssl_get(addr, bare).attempt().await.verdict;
    assert!(!v.is_pass(), "{v:?}");

    let opts = TlsOptions {
        client_cert: Some(cert_file),
        client_key: Some(key_file),
        ..TlsOptions::default()
    };
    let with = TlsSpec {
        config: client_config(&opts).unwrap(),
        sni: None,
        verify_ca: None,
    };
    assert_eq!(ssl_get(addr, with).attempt().await.verdict, Verdict::Pass);
}

#[test]
fn configuration_errors_name_the_file() {
    let dir = TmpDir::new("errors");
    let missing = dir.0.join("missing.pem");
    let e = client_config(&TlsOptions {
        verify_ca: Some(missing.clone()),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert!(matches!(e, TlsError::Read { .. }), "{e}");
    assert!(e.to_string().contains("missing.pem"), "{e}");

    let junk = dir.write("junk.pem", "not a certificate\n");
    let e = client_config(&TlsOptions {
        verify_ca: Some(junk),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("no PEM certificate"), "{e}");

    let root = ca("c");
    let cert = dir.write("c.pem", &root.cert.pem());
    let enc = dir.write(
        "enc.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let e = client_config(&TlsOptions {
        client_cert: Some(cert.clone()),
        client_key: Some(enc),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("encrypted"), "{e}");
    let e = client_config(&TlsOptions {
        client_cert: Some(cert),
        ..TlsOptions::default()
    })
    .unwrap_err();
    assert!(matches!(e, TlsError::HalfClientIdentity), "{e}");
}

#[tokio::test]
async fn a_server_stalling_mid_handshake_fails_at_the_deadline() {
    // Accepts, reads the ClientHello, never answers (keepalived #1817).
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let mut check = ssl_get(
        addr,
        TlsSpec {
            config: insecure_config().unwrap(),
            sni: None,
            verify_ca: None,
        },
    );
    check.deadline = Duration::from_secs(1);
    check.conn.connect_timeout = Duration::from_secs(1);
    let t0 = std::time::Instant::now();
    let r = reason(check.attempt().await.verdict);
    let took = t0.elapsed();
    assert!(r.ends_with("TLS handshake not done within 1s"), "{r}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}
