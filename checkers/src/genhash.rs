//! `genhash`: keepalived's `--genhash` digest tool, same flags, same output
//! (the MD5 keepalived's HTTP_GET/SSL_GET `digest` compares against, taken
//! over the raw bytes after the header, cut at an exact-case
//! `Content-Length:`). `-v` prints keepalived's hex dumps.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::conn::ConnOptions;
use crate::http::response::{digest_body, header_end, md5_hex, ReadMode, KEEPALIVED_BUFFER};
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
    let elapsed_line = |url: &str| {
        format!(
            "\nGlobal response time for [{url}] = {} usecs\n",
            started.elapsed().as_micros()
        )
    };
    let raw = match check.fetch_raw(&url, ReadMode::UntilClose).await {
        Ok(r) => r,
        Err(e) if e.starts_with("response header larger") => {
            // keepalived's 4 KiB buffer fills without a blank line.
            return GenhashOutput {
                stdout: String::new(),
                stderr: "no data received from remote webserver\n".into(),
            };
        }
        Err(e) => {
            // keepalived prints the checker's failure message and, with -v,
            // the response time.
            let mut stdout = format!("{}\n", failure_message(&e));
            if req.verbose {
                stdout.push_str(&elapsed_line(&req.url));
            }
            return GenhashOutput {
                stdout,
                stderr: String::new(),
            };
        }
    };
    // keepalived looks for the end of the header within its receive
    // buffer only: a longer header reads as "no data" (the buffer fills,
    // the next read asks for 0 bytes and is taken as the end).
    let first = &raw.bytes[..raw.bytes.len().min(KEEPALIVED_BUFFER)];
    let resp: &[u8] = if header_end(first).is_some() {
        &raw.bytes
    } else {
        first
    };
    let complete = header_end(resp).is_some();
    let body = digest_body(resp);
    let hash = md5_hex(body);
    let no_data = "no data received from remote webserver\n".to_string();
    if !req.verbose {
        return if complete {
            GenhashOutput {
                stdout: format!("{hash}\n"),
                stderr: String::new(),
            }
        } else {
            GenhashOutput {
                stdout: String::new(),
                stderr: no_data,
            }
        };
    }
    // keepalived's verbose output, as it prints it while reading: the
    // header banner once something arrived, the header dumps once the
    // blank line is found, the hashed bytes (cut at Content-Length) under
    // their banner when there are any, the MD5 dump only when the server
    // closed cleanly (EOF; TLS close_notify), then the hash (or "no data"
    // on stderr) and the response time.
    let mut out = String::new();
    if !resp.is_empty() {
        banner(&mut out, "    HTTP Header Buffer    ");
    }
    if let Some(end) = header_end(resp) {
        hex_dump(&mut out, &resp[..end]);
        banner(&mut out, " HTTP Header Ascii Buffer ");
        out.push_str(&String::from_utf8_lossy(&resp[..end]));
        out.push('\n');
        if !body.is_empty() {
            banner(&mut out, "        HTML Buffer        ");
            hex_dump(&mut out, body);
        }
    }
    if raw.clean_close {
        out.push('\n');
        banner(&mut out, "    HTML hash resulting    ");
        let digest: Vec<u8> = (0..hash.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).ok())
            .collect();
        hex_dump(&mut out, &digest);
        banner(&mut out, " HTML hash final resulting ");
    }
    let mut stderr = String::new();
    if complete {
        let _ = writeln!(out, "{hash}");
    } else {
        stderr = no_data;
    }
    out.push_str(&elapsed_line(&req.url));
    GenhashOutput {
        stdout: out,
        stderr,
    }
}

/// keepalived's message for a failed genhash exchange (its checker's
/// failure reasons, printed on stdout).
fn failure_message(e: &str) -> &'static str {
    if e.starts_with("connect: timed out") || e.starts_with("TLS handshake not done") {
        "Timeout connecting"
    } else if e.starts_with("connect") {
        "Connection failed"
    } else if e.starts_with("TLS") {
        "SSL handshake/communication error connecting to"
    } else if e.starts_with("send") || e.starts_with("timed out sending") {
        "Cannot send get request to"
    } else if e.starts_with("response not complete within the deadline (0 bytes") {
        "Timeout WEB read"
    } else if e.starts_with("response not complete") {
        "Timeout HTTP read"
    } else {
        "Read error with"
    }
}
