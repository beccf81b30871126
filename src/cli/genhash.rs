//! `lvsd genhash`: keepalived's `--genhash` with the same flags and output.

use std::io::Write;
use std::time::Duration;

use lvsd_checkers::genhash::{genhash, GenhashRequest};
use lvsd_checkers::http::HttpVersion;

use super::args::GenhashArgs;
use super::exit;

pub fn run(a: &GenhashArgs) -> i32 {
    let version = match a.protocol.as_str() {
        "1.0" => HttpVersion::Http10,
        "1.0c" | "1.0C" => HttpVersion::Http10Close,
        "1.1" => HttpVersion::Http11,
        other => {
            eprintln!("lvsd genhash: `-P {other}`: expected 1.0, 1.0c or 1.1");
            return exit::CONFIG;
        }
    };
    let req = GenhashRequest {
        server: a.server,
        port: a.port,
        url: a.url.clone(),
        ssl: a.ssl,
        // keepalived's -I: SNI from the -V virtual host (none without it).
        sni: if a.sni { a.vhost.clone() } else { None },
        vhost: a.vhost.clone(),
        version,
        fwmark: a.fwmark,
        timeout: Duration::from_secs(a.timeout),
        verbose: a.verbose,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lvsd genhash: {e}");
            return exit::RUNTIME;
        }
    };
    let out = rt.block_on(genhash(&req));
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    exit::OK
}
