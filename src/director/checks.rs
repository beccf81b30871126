//! From configured checkers to runnable checks (`lvsd-checkers`), with the
//! connection options and timing keepalived resolves.

use std::net::SocketAddr;
use std::sync::Arc;

use lvsd_checkers::http::tls_options::{client_config, TlsOptions};
use lvsd_checkers::http::{HttpCheck, HttpVersion, TlsSpec, UrlSpec};
use lvsd_checkers::tcp::TcpCheck;
use lvsd_checkers::timing::TimingSpec;
use lvsd_checkers::{Check, ConnOptions};

use crate::config::model::{
    Checker, CheckerKind, Config, HttpCheck as HttpCfg, HttpProtocol, RealServer, VirtualServer,
};

/// Why a configured checker cannot run (yet) in lvsd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

pub fn timing(c: &Checker) -> TimingSpec {
    let t = &c.timing;
    TimingSpec {
        delay_loop: t.delay_loop.value,
        delay_before_retry: t.delay_before_retry.value,
        retry: t.retry.value,
        warmup: t.warmup.value,
        alpha: t.alpha.value,
        poll_down_at_max: matches!(c.kind, CheckerKind::Http(_) | CheckerKind::Ssl(_)),
        rise: None,
        fall: None,
    }
}

fn conn(c: &Checker, rs: &RealServer) -> ConnOptions {
    let ip = c.conn.connect_ip.unwrap_or(rs.addr);
    let port = c.conn.connect_port.unwrap_or(rs.port.value);
    let mut o = ConnOptions::new(SocketAddr::new(ip, port), c.timing.connect_timeout.value);
    o.bind_addr = c.conn.bindto;
    o.bind_port = c.conn.bind_port;
    o.bind_if = c.conn.bind_if.clone();
    o.fwmark = c.conn.fwmark;
    o
}

/// SSL_GET's TLS: keepalived's (no verification; the global `SSL`
/// block's client certificate when given), or with `lvsd_verify_tls` the
/// server certificate verified against the global `SSL { ca }`.
fn tls(
    h: &HttpCfg,
    rs: &RealServer,
    vs: &VirtualServer,
    cfg: &Config,
) -> Result<TlsSpec, Unsupported> {
    // SNI: sni_name, else url vhost, else checker vhost, else VS vhost
    // (keepalived skips the real server's vhost here).
    let sni_chain = h
        .sni_name
        .clone()
        .or_else(|| h.urls.first().and_then(|u| u.virtualhost.clone()))
        .or_else(|| h.virtualhost.clone())
        .or_else(|| vs.virtualhost.clone());
    let ssl = cfg.ssl.clone().unwrap_or_default();
    let verify_ca = if h.lvsd_verify_tls {
        match &ssl.ca {
            Some(ca) => Some(std::path::PathBuf::from(ca)),
            None => {
                return Err(Unsupported(
                    "SSL_GET lvsd_verify_tls needs a CA: set `ca` in the global SSL block".into(),
                ))
            }
        }
    } else {
        None
    };
    let opts = TlsOptions {
        verify_ca: verify_ca.clone(),
        client_cert: ssl.certificate.as_ref().map(Into::into),
        client_key: ssl.key.as_ref().map(Into::into),
        send_sni: h.enable_sni,
    };
    if opts
        == (TlsOptions {
            send_sni: opts.send_sni,
            ..TlsOptions::default()
        })
    {
        let config = lvsd_checkers::http::tls::insecure_config().map_err(Unsupported)?;
        let sni = if h.enable_sni { sni_chain } else { None };
        return Ok(TlsSpec {
            config,
            sni,
            verify_ca: None,
        });
    }
    let config = client_config(&opts).map_err(|e| Unsupported(format!("SSL_GET: {e}")))?;
    // Verified against: the SNI chain, else the real server's vhost, else
    // the target's IP address.
    let sni = sni_chain.or_else(|| rs.virtualhost.clone());
    Ok(TlsSpec {
        config,
        sni,
        verify_ca,
    })
}

fn http(
    h: &HttpCfg,
    c: &Checker,
    rs: &RealServer,
    vs: &VirtualServer,
    cfg: &Config,
    ssl: bool,
) -> Result<Arc<dyn Check>, Unsupported> {
    let conn = conn(c, rs);
    let default_host = lvsd_checkers::http::request::default_host(conn.target);
    let mut urls = Vec::new();
    for u in &h.urls {
        let host = u
            .virtualhost
            .clone()
            .or_else(|| h.virtualhost.clone())
            .or_else(|| rs.virtualhost.clone())
            .or_else(|| vs.virtualhost.clone())
            .unwrap_or_else(|| default_host.clone());
        let regex = match &u.regex {
            Some(r) => Some(
                fancy_regex::Regex::new(r).map_err(|e| Unsupported(format!("regex `{r}`: {e}")))?,
            ),
            None => None,
        };
        urls.push(UrlSpec {
            path: u.path.clone(),
            digest: u.digest.clone(),
            status: u.status_codes.clone(),
            host,
            regex,
            regex_no_match: u.regex_no_match,
        });
    }
    let tls = if ssl {
        Some(tls(h, rs, vs, cfg)?)
    } else {
        None
    };
    Ok(Arc::new(HttpCheck {
        deadline: conn.connect_timeout,
        conn,
        urls,
        version: match h.http_protocol {
            HttpProtocol::Http10 => HttpVersion::Http10,
            HttpProtocol::Http10Close => HttpVersion::Http10Close,
            HttpProtocol::Http11 => HttpVersion::Http11,
        },
        tls,
        fast_recovery: h.fast_recovery,
    }))
}

/// The runnable check for a configured checker.
pub fn build(
    c: &Checker,
    rs: &RealServer,
    vs: &VirtualServer,
    cfg: &Config,
) -> Result<Arc<dyn Check>, Unsupported> {
    use lvsd_checkers::{dns, file, misc, ping, smtp, udp};
    match &c.kind {
        CheckerKind::Tcp => Ok(Arc::new(TcpCheck { conn: conn(c, rs) })),
        CheckerKind::Http(h) => http(h, c, rs, vs, cfg, false),
        CheckerKind::Ssl(h) => http(h, c, rs, vs, cfg, true),
        CheckerKind::Smtp(s) => Ok(Arc::new(smtp::SmtpCheck::new(smtp::SmtpSpec {
            conn: conn(c, rs),
            helo_name: Some(s.helo_name.clone()),
        }))),
        CheckerKind::Dns(d) => {
            let mut spec = dns::DnsSpec::new(conn(c, rs));
            spec.rr_type = dns::RrType::parse(&d.query_type)
                .ok_or_else(|| Unsupported(format!("DNS_CHECK type {}", d.query_type)))?;
            spec.name = if d.name == "." {
                String::new()
            } else {
                d.name.clone()
            };
            Ok(Arc::new(dns::DnsCheck::new(spec)))
        }
        CheckerKind::Udp(u) => {
            let mut spec = udp::UdpSpec::new(conn(c, rs));
            spec.payload = u.payload.clone();
            spec.require_reply = u.require_reply.as_ref().map(|p| udp::ReplyPattern {
                value: p.bytes.clone(),
                mask: p.mask.clone(),
            });
            spec.min_reply_length = u.min_reply_length as usize;
            spec.max_reply_length = u.max_reply_length as usize;
            Ok(Arc::new(udp::UdpCheck::new(spec)))
        }
        CheckerKind::Ping => Ok(Arc::new(ping::PingCheck::new(ping::PingSpec {
            conn: conn(c, rs),
        }))),
        CheckerKind::Misc(m) => {
            let spec = misc::MiscSpec {
                misc_path: m.path.clone(),
                misc_timeout: m.timeout.value,
                misc_dynamic: m.dynamic,
                user: m.user.clone(),
                group: m.group.clone(),
                script_user: cfg.global.script_user.as_ref().map(|u| u.0.clone()),
                rs_weight: rs.weight.value as i64,
                script_security: cfg.global.enable_script_security,
            };
            misc::MiscCheck::new(spec)
                .map(|m| Arc::new(m) as Arc<dyn Check>)
                .map_err(|e| Unsupported(format!("MISC_CHECK: {e}")))
        }
        CheckerKind::File(f) => {
            let tf = cfg
                .track_files
                .iter()
                .find(|t| t.name == f.track_file)
                .ok_or_else(|| Unsupported(format!("unknown track_file {}", f.track_file)))?;
            let spec = file::FileSpec {
                name: tf.name.clone(),
                path: tf.file.clone().into(),
                weight: f.weight.unwrap_or(tf.weight),
                reverse: if f.weight.is_some() {
                    f.reverse
                } else {
                    tf.reverse
                },
                init_file: tf.init_file.map(|(v, o)| (v.unwrap_or(0), o)),
            };
            file::FileCheck::new(spec)
                .map(|f| Arc::new(f) as Arc<dyn Check>)
                .map_err(|e| Unsupported(format!("FILE_CHECK: {e}")))
        }
        CheckerKind::Bfd { .. } => Err(Unsupported(
            "BFD_CHECK is not supported by lvsd: the real server keeps its start-up state".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn config(ssl_block: &str, ssl_get: &str) -> Config {
        let text = format!(
            "{ssl_block}\nvirtual_server 10.0.0.1 443 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
             real_server 127.0.0.1 443 {{\n  SSL_GET {{\n   url {{\n    path /a\n   }}\n   url {{\n    path /b\n   }}\n{ssl_get}\n  }}\n }}\n}}\n"
        );
        let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        l.config
    }

    fn parts(cfg: &Config) -> (&HttpCfg, &RealServer, &VirtualServer) {
        let vs = &cfg.virtual_servers[0];
        let rs = &vs.real_servers[0];
        match &rs.checkers[0].kind {
            CheckerKind::Ssl(h) => (h, rs, vs),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keepalived_configs_keep_tls_unverified_even_with_a_ca() {
        let cfg = config(
            "SSL {\n ca /nonexistent/ca.pem\n}",
            "   enable_sni\n   virtualhost www.example",
        );
        let (h, rs, vs) = parts(&cfg);
        assert!(!h.lvsd_verify_tls);
        let t = tls(h, rs, vs, &cfg).unwrap();
        assert_eq!(t.verify_ca, None);
        assert_eq!(t.sni.as_deref(), Some("www.example"));
    }

    #[test]
    fn lvsd_verify_tls_uses_the_global_ca() {
        let ca = "/etc/ssl/certs/ca-certificates.crt";
        if !Path::new(ca).exists() {
            eprintln!("skipped: no system CA bundle at {ca} to load");
            return;
        }
        let cfg = config(&format!("SSL {{\n ca {ca}\n}}"), "   lvsd_verify_tls");
        let (h, rs, vs) = parts(&cfg);
        assert!(h.lvsd_verify_tls);
        let t = tls(h, rs, vs, &cfg).unwrap();
        assert_eq!(t.verify_ca.as_deref(), Some(Path::new(ca)));
        // No SNI configured: verified against the target address.
        assert_eq!(t.sni, None);
    }

    #[test]
    fn lvsd_verify_tls_without_a_usable_ca_is_refused_with_the_reason() {
        let cfg = config("", "   lvsd_verify_tls");
        let (h, rs, vs) = parts(&cfg);
        let e = tls(h, rs, vs, &cfg).unwrap_err();
        assert!(e.0.contains("needs a CA"), "{}", e.0);
        let cfg = config("SSL {\n ca /nonexistent/ca.pem\n}", "   lvsd_verify_tls");
        let (h, rs, vs) = parts(&cfg);
        let e = tls(h, rs, vs, &cfg).unwrap_err();
        assert!(e.0.contains("cannot read /nonexistent/ca.pem"), "{}", e.0);
    }

    #[test]
    fn urls_are_checked_one_per_round_with_fast_recovery() {
        let cfg = config("", "   fast_recovery");
        let vs = &cfg.virtual_servers[0];
        let rs = &vs.real_servers[0];
        let check = build(&rs.checkers[0], rs, vs, &cfg).unwrap();
        assert_eq!(
            check.rounds(),
            Some(lvsd_checkers::rounds::UrlRounds {
                count: 2,
                fast_recovery: true
            })
        );
    }

    /// The Host header on the wire follows keepalived's chain: url, then
    /// checker, then real server, then virtual server `virtualhost`, else
    /// `ip:port`; SSL_GET's SNI skips the real server's.
    #[tokio::test]
    async fn host_header_and_sni_follow_keepalived_virtualhost_chain() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for _ in 0..5 {
                let Ok((mut s, _)) = l.accept() else { return };
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap_or(0);
                let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let cfg_text = |vs: &str, rs: &str, chk: &str, url: &str| {
            format!(
                "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind NAT\n protocol TCP\n{vs}\
                 real_server 127.0.0.1 {port} {{\n{rs}  HTTP_GET {{\n{chk}   url {{\n    path /h\n{url}   }}\n  }}\n }}\n}}\n"
            )
        };
        let v = |name: &str| format!("   virtualhost {name}\n");
        let cases = [
            (
                v("vs.example"),
                v("rs.example"),
                v("chk.example"),
                v("url.example"),
                "url.example",
            ),
            (
                v("vs.example"),
                v("rs.example"),
                v("chk.example"),
                String::new(),
                "chk.example",
            ),
            (
                v("vs.example"),
                v("rs.example"),
                String::new(),
                String::new(),
                "rs.example",
            ),
            (
                v("vs.example"),
                String::new(),
                String::new(),
                String::new(),
                "vs.example",
            ),
            (
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                &*format!("127.0.0.1:{port}"),
            ),
        ];
        for (vs, rs, chk, url, want) in &cases {
            let text = cfg_text(vs, rs, chk, url);
            let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
            assert!(!l.has_errors(), "{}", l.render_diagnostics());
            let cfg = l.config;
            let vs = &cfg.virtual_servers[0];
            let rs = &vs.real_servers[0];
            let check = build(&rs.checkers[0], rs, vs, &cfg).unwrap();
            assert!(check.attempt().await.verdict.is_pass());
            let req = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
            assert!(
                req.contains(&format!("\r\nHost: {want}\r\n")),
                "want Host {want}: {req:?}"
            );
        }

        // SNI: the real server's vhost is skipped; the VS's is used.
        let sni_with = |vs: &str, rs: &str, chk: &str, url: &str| {
            let text = format!(
                "virtual_server 10.0.0.1 443 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n{vs}\
                 real_server 127.0.0.1 443 {{\n{rs}  SSL_GET {{\n   enable_sni\n{chk}   url {{\n    path /\n{url}   }}\n  }}\n }}\n}}\n"
            );
            let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
            assert!(!l.has_errors(), "{}", l.render_diagnostics());
            let cfg = l.config;
            let (h, rs, vs) = parts(&cfg);
            tls(h, rs, vs, &cfg).unwrap().sni
        };
        let sni = |vs: &str, rs: &str| sni_with(vs, rs, "", "");
        assert_eq!(sni("", &v("rs.example")), None);
        // sni_name, then url, then checker virtualhost.
        let all = (v("vs.example"), v("rs.example"));
        assert_eq!(
            sni_with(
                &all.0,
                &all.1,
                &format!("{}   sni_name sni.example\n", v("chk.example")),
                &v("url.example")
            )
            .as_deref(),
            Some("sni.example")
        );
        assert_eq!(
            sni_with(&all.0, &all.1, &v("chk.example"), &v("url.example")).as_deref(),
            Some("url.example")
        );
        assert_eq!(
            sni_with(&all.0, &all.1, &v("chk.example"), "").as_deref(),
            Some("chk.example")
        );
        assert_eq!(
            sni(&v("vs.example"), &v("rs.example")).as_deref(),
            Some("vs.example")
        );
    }
}
