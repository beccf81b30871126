//! SSL_GET client TLS settings beyond the shared default: keepalived's
//! global `SSL { certificate key }` client certificate, and lvsd's optional
//! server certificate verification (`lvsd_verify_tls`, against the global
//! `SSL { ca }`; off by default because keepalived loads `ca` but never
//! verifies, and existing configs must keep working).
//!
//! Configurations are built once per distinct setting and file contents
//! (shared by every check using them), and handshake failures are worded
//! for operators ("server certificate is not signed by the CA in
//! /etc/ssl/ca.pem").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use thiserror::Error;

use super::tls::insecure_verifier;

/// What an SSL_GET needs beyond the shared unverified configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Verify the server certificate chain and name against the CAs in this
    /// PEM file (lvsd-only); `None`: no verification, as keepalived.
    pub verify_ca: Option<PathBuf>,
    /// Client certificate chain (PEM) presented to the server.
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM, unencrypted).
    pub client_key: Option<PathBuf>,
    /// Send SNI (`enable_sni`).
    pub send_sni: bool,
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no PEM private key found")]
    NoKey { path: PathBuf },
    #[error("{path}: the private key is encrypted; lvsd needs an unencrypted key (the SSL `password` cannot be used)")]
    EncryptedKey { path: PathBuf },
    #[error("{path}: bad CA certificate: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("a client certificate needs both `certificate` and `key` in the SSL block")]
    HalfClientIdentity,
    #[error("TLS setup: {0}")]
    Setup(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    if String::from_utf8_lossy(pem).contains("ENCRYPTED") {
        return Err(TlsError::EncryptedKey {
            path: path.to_path_buf(),
        });
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| TlsError::NoKey {
        path: path.to_path_buf(),
    })
}

fn build(opts: &TlsOptions, files: &Files) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let builder = match (&opts.verify_ca, &files.ca) {
        (Some(path), Some(pem)) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(path, pem)? {
                roots.add(cert).map_err(|e| TlsError::BadCa {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::BadCa {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            builder.with_webpki_verifier(verifier)
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(insecure_verifier(provider)),
    };
    let mut cfg = match (&opts.client_cert, &opts.client_key, &files.cert, &files.key) {
        (Some(cp), Some(kp), Some(c), Some(k)) => builder
            .with_client_auth_cert(certificates(cp, c)?, private_key(kp, k)?)
            .map_err(|e| TlsError::Setup(format!("client certificate {}: {e}", cp.display())))?,
        (None, None, _, _) => builder.with_no_client_auth(),
        _ => return Err(TlsError::HalfClientIdentity),
    };
    cfg.enable_sni = opts.send_sni;
    Ok(Arc::new(cfg))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Files {
    ca: Option<Vec<u8>>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
}

/// The client configuration for `opts`, shared by every check with the same
/// options and file contents (files are re-read, so a reload picks up a
/// renewed certificate).
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    type Cache = Mutex<HashMap<(TlsOptions, Files), Arc<ClientConfig>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let files = Files {
        ca: opts.verify_ca.as_deref().map(read).transpose()?,
        cert: opts.client_cert.as_deref().map(read).transpose()?,
        key: opts.client_key.as_deref().map(read).transpose()?,
    };
    let key = (opts.clone(), files);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock() {
        if let Some(cfg) = c.get(&key) {
            return Ok(cfg.clone());
        }
    }
    let cfg = build(opts, &key.1)?;
    if let Ok(mut c) = cache.lock() {
        // Bounded: distinct settings are few; stale contents are dropped.
        if c.len() >= 64 {
            c.clear();
        }
        c.insert(key, cfg.clone());
    }
    Ok(cfg)
}

/// A handshake failure as operators read it. `ca` is the verifying CA file.
pub fn describe_handshake_error(e: &std::io::Error, ca: Option<&Path>) -> String {
    let from = || match ca {
        Some(p) => format!("the CA in {}", p.display()),
        None => "the configured CA".to_string(),
    };
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            CertificateError::UnknownIssuer => {
                format!("server certificate is not signed by {}", from())
            }
            CertificateError::NotValidForName => {
                "server certificate is not valid for the expected name".to_string()
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "server certificate is not valid for {} (it is for {})",
                name_text(expected),
                presented.join(", ")
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "server certificate has expired".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "server certificate is not valid yet".to_string()
            }
            other => format!("server certificate rejected: {other:?}"),
        },
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

fn name_text(n: &rustls::pki_types::ServerName<'_>) -> String {
    match n {
        rustls::pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}
