//! HTTP_GET and SSL_GET: the byte-exact keepalived request, status code
//! sets, MD5 digest and regex, all within one total deadline per attempt.
//!
//! The engine checks one URL per attempt (`Check::attempt_part`), with
//! keepalived's one-URL-per-round rules and `fast_recovery` (see
//! `crate::rounds`); `Check::attempt` checks every URL in order and passes
//! when all pass (one-shot use, e.g. tools and tests).

pub mod request;
pub mod response;
pub mod tls;
pub mod tls_options;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::check::{AttemptFuture, Check};
use crate::conn::ConnOptions;
use crate::describe::{io_error, secs};
use crate::outcome::{CheckOutcome, Verdict};
use crate::rounds::UrlRounds;
use crate::socket::tcp_connect;

pub use request::HttpVersion;
use response::{
    digest_body, header_end, md5_hex, read_raw, status_code, RawResponse, ReadError, ReadMode,
};

/// One `url { ... }` block.
#[derive(Debug, Clone)]
pub struct UrlSpec {
    pub path: String,
    /// 32 lowercase hex characters.
    pub digest: Option<String>,
    /// Accepted ranges; empty = 200-299.
    pub status: Vec<(u16, u16)>,
    /// The Host header (resolved virtualhost, else `ip:port`).
    pub host: String,
    pub regex: Option<fancy_regex::Regex>,
    pub regex_no_match: bool,
}

/// TLS settings of an SSL_GET.
#[derive(Debug, Clone)]
pub struct TlsSpec {
    pub config: Arc<rustls::ClientConfig>,
    /// The server name: sent as SNI when `config` enables SNI, and checked
    /// against the certificate when it verifies; `None`: the target's IP
    /// address (never sent as SNI).
    pub sni: Option<String>,
    /// The CA file `config` verifies with (lvsd_verify_tls), for messages.
    pub verify_ca: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct HttpCheck {
    pub conn: ConnOptions,
    pub urls: Vec<UrlSpec>,
    pub version: HttpVersion,
    pub tls: Option<TlsSpec>,
    /// Total deadline of one URL's exchange (connect, TLS, request,
    /// response); keepalived's connect_timeout.
    pub deadline: Duration,
    /// `fast_recovery`: see `crate::rounds`.
    pub fast_recovery: bool,
}

fn status_ok(code: u16, ranges: &[(u16, u16)]) -> bool {
    if ranges.is_empty() {
        (200..=299).contains(&code)
    } else {
        ranges.iter().any(|(a, b)| (*a..=*b).contains(&code))
    }
}

fn ranges_text(ranges: &[(u16, u16)]) -> String {
    if ranges.is_empty() {
        return "200-299".into();
    }
    ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    req: &[u8],
    deadline: Instant,
    mode: ReadMode,
) -> Result<RawResponse, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, s.write_all(req)).await {
        Err(_) => return Err("timed out sending the request".into()),
        Ok(Err(e)) => return Err(format!("send: {}", io_error(&e))),
        Ok(Ok(())) => {}
    }
    read_raw(s, deadline, mode).await.map_err(|e| e.to_string())
}

impl HttpCheck {
    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Fetches one URL; returns the raw response, which has at least a
    /// complete header.
    pub async fn fetch(&self, url: &UrlSpec, mode: ReadMode) -> Result<Vec<u8>, String> {
        let raw = self.fetch_raw(url, mode).await?;
        if raw.bytes.is_empty() || header_end(&raw.bytes).is_none() {
            return Err(ReadError::NoData.to_string());
        }
        Ok(raw.bytes)
    }

    /// Fetches one URL; returns whatever arrived (possibly nothing) and
    /// how the server ended the stream (genhash's verbose dump).
    pub async fn fetch_raw(&self, url: &UrlSpec, mode: ReadMode) -> Result<RawResponse, String> {
        let deadline = Instant::now() + self.deadline;
        let mut tcp = tcp_connect(&self.conn, self.deadline)
            .await
            .map_err(|e| format!("connect: {}", io_error(&e)))?;
        let req = request::build(&url.path, self.version, &url.host);
        match &self.tls {
            None => exchange(&mut tcp, &req, deadline, mode).await,
            Some(t) => {
                let connector = tokio_rustls::TlsConnector::from(t.config.clone());
                let name = tls::server_name(t.sni.as_deref(), self.conn.target.ip());
                let left = deadline.saturating_duration_since(Instant::now());
                let mut stream =
                    match tokio::time::timeout(left, connector.connect(name, tcp)).await {
                        Err(_) => {
                            return Err(format!(
                                "TLS handshake not done within {}",
                                secs(self.deadline)
                            ))
                        }
                        Ok(Err(e)) => {
                            return Err(format!(
                                "TLS handshake: {}",
                                tls_options::describe_handshake_error(&e, t.verify_ca.as_deref())
                            ))
                        }
                        Ok(Ok(s)) => s,
                    };
                exchange(&mut stream, &req, deadline, mode).await
            }
        }
    }

    async fn check_url(&self, url: &UrlSpec) -> Result<(), String> {
        let mode = if url.digest.is_some() || url.regex.is_some() {
            ReadMode::UntilClose
        } else {
            ReadMode::UntilComplete
        };
        let resp = self.fetch(url, mode).await?;
        let code = status_code(&resp).unwrap_or(0);
        if !status_ok(code, &url.status) {
            return Err(format!(
                "status {code}, expected {}",
                ranges_text(&url.status)
            ));
        }
        if let Some(want) = &url.digest {
            let got = md5_hex(digest_body(&resp));
            if &got != want {
                return Err(format!("digest {got}, expected {want}"));
            }
        }
        if let Some(re) = &url.regex {
            let end = response::header_end(&resp).unwrap_or(0);
            let body = String::from_utf8_lossy(&resp[end..]);
            let matched = re.is_match(body.as_ref()).unwrap_or(false);
            if matched == url.regex_no_match {
                return Err(if url.regex_no_match {
                    format!("body matches regex `{}`", re.as_str())
                } else {
                    format!("body does not match regex `{}`", re.as_str())
                });
            }
        }
        Ok(())
    }
}

impl HttpCheck {
    fn kind(&self) -> &'static str {
        if self.tls.is_some() {
            "SSL_GET"
        } else {
            "HTTP_GET"
        }
    }

    /// Checks `urls` in order; the first failure ends the attempt.
    async fn attempt_urls(&self, urls: &[UrlSpec]) -> CheckOutcome {
        let start = Instant::now();
        let mut verdict = Verdict::Pass;
        for url in urls {
            if let Err(why) = self.check_url(url).await {
                verdict = Verdict::Fail(format!(
                    "{} {}://{}{}: {why}",
                    self.kind(),
                    self.scheme(),
                    self.conn.target,
                    url.path
                ));
                break;
            }
        }
        CheckOutcome {
            verdict,
            elapsed: start.elapsed(),
        }
    }
}

impl Check for HttpCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(self.attempt_urls(&self.urls))
    }

    fn rounds(&self) -> Option<UrlRounds> {
        Some(UrlRounds {
            count: self.urls.len(),
            fast_recovery: self.fast_recovery,
        })
    }

    fn attempt_part(&self, part: usize) -> AttemptFuture<'_> {
        let urls = match self.urls.get(part) {
            Some(_) => &self.urls[part..=part],
            None => &self.urls[..],
        };
        Box::pin(self.attempt_urls(urls))
    }

    fn describe(&self) -> String {
        let paths: Vec<&str> = self.urls.iter().map(|u| u.path.as_str()).collect();
        format!(
            "{} {}://{}{}",
            self.kind(),
            self.scheme(),
            self.conn.target,
            paths.join(",")
        )
    }

    fn identity(&self) -> String {
        let urls: Vec<String> = self
            .urls
            .iter()
            .map(|u| {
                format!(
                    "{}|{:?}|{:?}|{}|{:?}|{}",
                    u.path,
                    u.digest,
                    u.status,
                    u.host,
                    u.regex.as_ref().map(|r| r.as_str().to_string()),
                    u.regex_no_match
                )
            })
            .collect();
        format!(
            "HTTP|{:?}|{:?}|{:?}|{}|{}|{:?}",
            self.conn,
            urls,
            self.version,
            self.fast_recovery,
            self.tls.is_some(),
            self.tls
                .as_ref()
                .map(|t| (t.sni.clone(), t.verify_ca.clone(), Arc::as_ptr(&t.config)))
        )
    }
}
