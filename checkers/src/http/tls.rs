//! TLS for SSL_GET with rustls (ring provider). Like keepalived (which loads
//! `ca` but never verifies), server certificates are not verified by
//! default; the handshake signatures still are. SNI is sent only when
//! enabled (`enable_sni`), with `sni_name` or the virtual host. Client
//! certificates and the lvsd-only verification: `tls_options`.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The verifier that accepts any server certificate (keepalived's
/// behaviour) but still checks the handshake signatures.
pub fn insecure_verifier(provider: Arc<CryptoProvider>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(AcceptAnyCertificate(provider))
}

/// The shared client configuration (built once: no per-check cost).
pub fn insecure_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut cfg = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(insecure_verifier(provider))
                .with_no_client_auth();
            cfg.enable_sni = true;
            Ok(Arc::new(cfg))
        })
        .clone()
}

/// The server name to present: a DNS name for SNI (a virtual host's
/// `:port` suffix dropped), else the IP (no SNI).
pub fn server_name(sni: Option<&str>, ip: std::net::IpAddr) -> ServerName<'static> {
    if let Some(name) = sni {
        let host = match name.rsplit_once(':') {
            Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => name,
        };
        if let Ok(n) = ServerName::try_from(host.to_string()) {
            return n;
        }
    }
    ServerName::IpAddress(ip.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let dns = |s: &str| ServerName::try_from(s.to_string()).unwrap();
        assert_eq!(server_name(Some("www.example"), ip), dns("www.example"));
        assert_eq!(
            server_name(Some("www.example:8443"), ip),
            dns("www.example")
        );
        assert_eq!(server_name(None, ip), ServerName::IpAddress(ip.into()));
        assert_eq!(
            server_name(Some("not a name"), ip),
            ServerName::IpAddress(ip.into())
        );
        // An IP literal given as a name stays an IP name.
        assert_eq!(
            server_name(Some("10.0.0.2"), ip),
            ServerName::IpAddress("10.0.0.2".parse::<std::net::IpAddr>().unwrap().into())
        );
    }
}
