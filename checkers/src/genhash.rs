//! `genhash`: keepalived's `--genhash` digest tool, same flags, same output
//! (the MD5 keepalived's HTTP_GET/SSL_GET `digest` compares against, taken
//! over the raw bytes after the header, cut at an exact-case
//! `Content-Length:`). `-v` prints keepalived's hex dumps.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::conn::ConnOptions;
use crate::http::response::{digest_body, header_end, md5_hex, ReadMode};
use crate::http::{request, tls, HttpCheck, HttpVersion, TlsSpec, UrlSpec};

#[derive(Debug, Clone)]
pub struct GenhashRequest {
    pub server: IpAddr,
    pub port: u16,
    pub url: String,
    pub ssl: bool,
    /// `-I`: SNI name.
    pub sni: Option<String>,
    /// `-V`: virtual host for the Host header.
    pub vhost: Option<String>,
    pub version: HttpVersion,
    pub fwmark: u32,
    pub timeout: Duration,
    pub verbose: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenhashOutput {
    pub stdout: String,
    pub stderr: String,
}

/// keepalived's dump: `OOOO  xx xx xx xx xx xx xx xx - xx ... xx   ascii`.
pub fn hex_dump(out: &mut String, data: &[u8]) {
    for (i, line) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:04}  ", i * 16);
        for j in 0..16 {
            if j == 8 {
                out.push_str("- ");
            }
            match line.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  ");
        for j in 0..16 {
            out.push(match line.get(j) {
                Some(b) if (0x20..0x7f).contains(b) => *b as char,
                Some(_) => '.',
                None => ' ',
            });
        }
        out.push('\n');
    }
}

fn banner(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "-----------------------[{title}]-----------------------"
    );
}

pub async fn genhash(req: &GenhashRequest) -> GenhashOutput {
    let target = SocketAddr::new(req.server, req.port);
    let mut conn = ConnOptions::new(target, req.timeout);
    conn.fwmark = req.fwmark;
    let tls = if req.ssl {
        match tls::insecure_config() {
            Ok(config) => Some(TlsSpec {
                config,
                sni: req.sni.clone(),
                verify_ca: None,
            }),
            Err(e) => {
                return GenhashOutput {
                    stdout: String::new(),
                    stderr: format!("{e}\n"),
                }
            }
        }
    } else {
        None
    };
    let check = HttpCheck {
        conn,
        urls: Vec::new(),
        version: req.version,
        tls,
        deadline: req.timeout,
        fast_recovery: false,
    };
    let url = UrlSpec {
        path: req.url.clone(),
        digest: None,
        status: Vec::new(),
        host: req
            .vhost
            .clone()
            .unwrap_or_else(|| request::default_host(target)),
        regex: None,
        regex_no_match: false,
    };
    let started = std::time::Instant::now();
    let resp = match check.fetch(&url, ReadMode::UntilClose).await {
        Ok(r) => r,
        Err(e) if e.starts_with("connect") || e.starts_with("TLS") => {
            return GenhashOutput {
                stdout: "Connection failed\n".into(),
                stderr: String::new(),
            }
        }
        Err(_) => {
            return GenhashOutput {
                stdout: String::new(),
                stderr: "no data received from remote webserver\n".into(),
            }
        }
    };
    let body = digest_body(&resp);
    let hash = md5_hex(body);
    if !req.verbose {
        return GenhashOutput {
            stdout: format!("{hash}\n"),
            stderr: String::new(),
        };
    }
    let end = header_end(&resp).unwrap_or(resp.len());
    let mut out = String::new();
    banner(&mut out, "    HTTP Header Buffer    ");
    hex_dump(&mut out, &resp[..end]);
    banner(&mut out, " HTTP Header Ascii Buffer ");
    out.push_str(&String::from_utf8_lossy(&resp[..end]));
    out.push('\n');
    banner(&mut out, "        HTML Buffer        ");
    hex_dump(&mut out, &resp[end..]);
    out.push('\n');
    banner(&mut out, "    HTML hash resulting    ");
    let raw: Vec<u8> = (0..hash.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).ok())
        .collect();
    hex_dump(&mut out, &raw);
    banner(&mut out, " HTML hash final resulting ");
    let _ = writeln!(out, "{hash}\n");
    let _ = writeln!(
        out,
        "Global response time for [{}] = {} usecs",
        req.url,
        started.elapsed().as_micros()
    );
    GenhashOutput {
        stdout: out,
        stderr: String::new(),
    }
}
