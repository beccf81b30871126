//! Checker blocks (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK,
//! DNS_CHECK, UDP_CHECK, PING_CHECK, FILE_CHECK, BFD_CHECK) and the
//! top-level `track_file`, with keepalived's inheritance of timing values:
//! checker, then real server, then virtual server, then the type default.

use std::time::Duration;

use super::super::model::{
    Checker, CheckerConn, CheckerKind, CheckerTiming, Config, DnsCheck, FileCheck, HexPattern,
    HttpCheck, HttpProtocol, MiscCheck, Origin, RealServer, SmtpCheck, Sourced, TrackFile,
    UdpCheck, UrlCheck, VirtualServer,
};
use super::super::origin::Parent;
use super::super::tree::Node;
use super::host;
use super::lvs::inherited;
use super::Builder;

pub const CHECKER_KEYWORDS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

const CONN_KEYWORDS: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "fwmark",
    "connect_timeout",
];
const TIMING_KEYWORDS: &[&str] = &[
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "alpha",
    "log_all_failures",
];
const HTTP_KEYWORDS: &[&str] = &[
    "url",
    "virtualhost",
    "http_protocol",
    "fast_recovery",
    "nb_get_retry",
];
const SSL_KEYWORDS: &[&str] = &["enable_sni", "sni_name", "tls_compliant", "lvsd_verify_tls"];
const URL_KEYWORDS: &[&str] = &[
    "path",
    "digest",
    "status_code",
    "virtualhost",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_min_offset",
    "regex_max_offset",
    "regex_stack",
    "tls_compliant",
];
const DNS_TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];

/// What a real server's checkers inherit.
#[derive(Debug, Clone)]
pub struct Inherit {
    pub delay_loop: Sourced<Duration>,
    pub connect_timeout: Sourced<Duration>,
    pub retry: Option<Sourced<u32>>,
    pub delay_before_retry: Option<Sourced<Duration>>,
    pub warmup: Option<Sourced<Duration>>,
    pub alpha: Sourced<bool>,
    /// The virtual server's delay_loop (MISC_CHECK's misc_timeout default).
    pub vs_delay_loop: Duration,
    pub log_all_failures: bool,
    pub misc_user: Option<(String, Option<String>)>,
}

#[derive(Default)]
struct Own {
    delay_loop: Option<Sourced<Duration>>,
    connect_timeout: Option<Sourced<Duration>>,
    retry: Option<Sourced<u32>>,
    delay_before_retry: Option<Sourced<Duration>>,
    warmup: Option<Sourced<Duration>>,
    alpha: Option<Sourced<bool>>,
    log_all_failures: Option<bool>,
}

pub fn checker(
    b: &mut Builder<'_>,
    node: &Node,
    rs: &RealServer,
    vs: &VirtualServer,
    inherit: &Inherit,
    cfg: &Config,
) -> Option<Checker> {
    let children = b.need_block(node)?;
    b.no_args(node);
    let kw = node.name.text.as_str();
    let network = !matches!(kw, "MISC_CHECK" | "FILE_CHECK" | "BFD_CHECK");
    let timing_ok = !matches!(kw, "FILE_CHECK" | "BFD_CHECK");
    let mut own = Own::default();
    let mut conn = CheckerConn::default();
    let mut specific: Vec<&Node> = Vec::new();
    for c in children {
        let set = b.set_at(c);
        let name = c.name.text.as_str();
        if network && CONN_KEYWORDS.contains(&name) {
            match name {
                "connect_ip" => conn.connect_ip = b.ip(c),
                "connect_port" => conn.connect_port = b.int(c, 1, 65535).map(|v| v as u16),
                "bindto" => conn.bindto = b.ip(c),
                "bind_port" => conn.bind_port = b.int(c, 1, 65535).map(|v| v as u16),
                "bind_if" => {
                    if let Some(t) = b.first_arg(c) {
                        if b.opts.host_checks {
                            host::check_interface(b, t);
                        }
                        conn.bind_if = Some(t.text.to_string());
                    }
                }
                "fwmark" => conn.fwmark = b.int(c, 0, u32::MAX as i64).unwrap_or(0) as u32,
                _ => {
                    if let Some(d) = b.timer(c, false) {
                        own.connect_timeout = Some(Sourced::new(d, set));
                    }
                }
            }
            continue;
        }
        let retry_alias = name == "nb_get_retry" && matches!(kw, "HTTP_GET" | "SSL_GET");
        if retry_alias {
            b.warn(&c.name, "`nb_get_retry` is deprecated: use `retry`");
        }
        if (timing_ok && TIMING_KEYWORDS.contains(&name)) || retry_alias {
            match name {
                "retry" | "nb_get_retry" => {
                    if let Some(v) = b.int(c, 0, u32::MAX as i64) {
                        own.retry = Some(Sourced::new(v as u32, set));
                    }
                }
                "delay_before_retry" => {
                    own.delay_before_retry = b.timer(c, true).map(|d| Sourced::new(d, set))
                }
                "warmup" => own.warmup = b.timer(c, true).map(|d| Sourced::new(d, set)),
                "delay_loop" => own.delay_loop = b.timer(c, false).map(|d| Sourced::new(d, set)),
                "alpha" => own.alpha = Some(Sourced::new(b.flag(c), set)),
                _ => own.log_all_failures = Some(b.flag(c)),
            }
            continue;
        }
        if kw == "BFD_CHECK" && name == "alpha" {
            own.alpha = Some(Sourced::new(b.flag(c), set));
            continue;
        }
        specific.push(c);
    }
    if let (Some(ip), Some(bind)) = (conn.connect_ip, conn.bindto) {
        if ip.is_ipv4() != bind.is_ipv4() {
            b.error(
                &node.name,
                "connect_ip and bindto must be the same address family",
            );
        }
    }

    // Resolve timing: checker, then RS, then VS, then the type default.
    let delay_loop = own.delay_loop.unwrap_or_else(|| {
        Sourced::new(
            inherit.delay_loop.value,
            inherited_from(&inherit.delay_loop.from),
        )
    });
    let connect_timeout = own.connect_timeout.unwrap_or_else(|| {
        Sourced::new(
            inherit.connect_timeout.value,
            inherited_from(&inherit.connect_timeout.from),
        )
    });
    let type_retry = match kw {
        "DNS_CHECK" => 3,
        "MISC_CHECK" | "FILE_CHECK" | "BFD_CHECK" => 0,
        _ => 1,
    };
    let retry = own
        .retry
        .or_else(|| inherit.retry.clone())
        .unwrap_or_else(|| Sourced::new(type_retry, &"checker type default"));
    let type_dbr = match kw {
        "HTTP_GET" | "SSL_GET" => Duration::from_secs(3),
        "DNS_CHECK" => delay_loop.value,
        _ => Duration::from_secs(1),
    };
    let delay_before_retry = own
        .delay_before_retry
        .or_else(|| inherit.delay_before_retry.clone())
        .unwrap_or_else(|| Sourced::new(type_dbr, &"checker type default"));
    let warmup = own
        .warmup
        .or_else(|| inherit.warmup.clone())
        .unwrap_or_else(|| Sourced::new(delay_loop.value, &"default: equal to delay_loop"));
    let alpha = own.alpha.unwrap_or_else(|| inherit.alpha.clone());
    let timing = CheckerTiming {
        delay_loop,
        connect_timeout,
        retry,
        delay_before_retry,
        warmup,
        alpha,
        log_all_failures: own.log_all_failures.unwrap_or(inherit.log_all_failures),
    };

    let kind = match kw {
        "TCP_CHECK" => {
            for c in &specific {
                b.unknown(
                    c,
                    "in TCP_CHECK",
                    &[CONN_KEYWORDS, TIMING_KEYWORDS].concat(),
                );
            }
            CheckerKind::Tcp
        }
        "PING_CHECK" => {
            for c in &specific {
                b.unknown(
                    c,
                    "in PING_CHECK",
                    &[CONN_KEYWORDS, TIMING_KEYWORDS].concat(),
                );
            }
            CheckerKind::Ping
        }
        "HTTP_GET" | "SSL_GET" => {
            let ssl = kw == "SSL_GET";
            let http = http_check(b, node, &specific, ssl)?;
            if ssl {
                CheckerKind::Ssl(http)
            } else {
                CheckerKind::Http(http)
            }
        }
        "MISC_CHECK" => CheckerKind::Misc(misc_check(b, node, &specific, inherit, cfg)?),
        "SMTP_CHECK" => {
            let mut helo = "smtpchecker.keepalived.org".to_string();
            for c in &specific {
                match c.name.text.as_str() {
                    "helo_name" => {
                        if let Some(h) = b.string(c) {
                            helo = h;
                        }
                    }
                    "host" => b.error(
                        &c.name,
                        "SMTP_CHECK `host` sub-blocks are deprecated and not supported by lvsd: write one SMTP_CHECK per host with connect_ip/connect_port",
                    ),
                    _ => b.unknown(c, "in SMTP_CHECK", &[CONN_KEYWORDS, TIMING_KEYWORDS, &["helo_name"]].concat()),
                }
            }
            CheckerKind::Smtp(SmtpCheck { helo_name: helo })
        }
        "DNS_CHECK" => {
            let mut d = DnsCheck {
                query_type: "SOA".into(),
                name: ".".into(),
            };
            for c in &specific {
                match c.name.text.as_str() {
                    "type" => {
                        if let Some(t) = b.first_arg(c) {
                            let up = t.text.to_ascii_uppercase();
                            if DNS_TYPES.contains(&up.as_str()) {
                                d.query_type = up;
                            } else {
                                let msg = format!(
                                    "`{}` is not a DNS_CHECK type (allowed: {})",
                                    t.text,
                                    DNS_TYPES.join(" ")
                                );
                                b.error(t, msg);
                            }
                        }
                    }
                    "name" => {
                        if let Some(n) = b.string(c) {
                            d.name = n;
                        }
                    }
                    _ => b.unknown(
                        c,
                        "in DNS_CHECK",
                        &[CONN_KEYWORDS, TIMING_KEYWORDS, &["type", "name"]].concat(),
                    ),
                }
            }
            CheckerKind::Dns(d)
        }
        "UDP_CHECK" => CheckerKind::Udp(udp_check(b, &specific)),
        "FILE_CHECK" => {
            let mut track = None;
            let mut weight = None;
            let mut reverse = false;
            for c in &specific {
                match c.name.text.as_str() {
                    "track_file" => {
                        if let Some(t) = b.first_arg(c) {
                            if !cfg.track_files.iter().any(|f| f.name == t.text) {
                                b.error(t, format!("unknown track_file `{}` (define it with a top-level `track_file {} {{ file ... }}`)", t.text, t.text));
                            }
                            track = Some(t.text.to_string());
                        }
                    }
                    "weight" => {
                        if b.arity(c, 1, 2) {
                            weight = b.int_tok(&c.args[0], -254, 254);
                            if let Some(r) = c.args.get(1) {
                                if r.text == "reverse" {
                                    reverse = true;
                                } else {
                                    b.error(
                                        r,
                                        format!("unexpected `{}` (expected `reverse`)", r.text),
                                    );
                                }
                            }
                        }
                    }
                    _ => b.unknown(c, "in FILE_CHECK", &["track_file", "weight"]),
                }
            }
            let Some(track_file) = track else {
                b.error(&node.name, "FILE_CHECK needs `track_file NAME`");
                return None;
            };
            CheckerKind::File(FileCheck {
                track_file,
                weight,
                reverse,
            })
        }
        _ => {
            let mut name = None;
            for c in &specific {
                match c.name.text.as_str() {
                    "name" => name = b.string(c),
                    _ => b.unknown(c, "in BFD_CHECK", &["name", "alpha"]),
                }
            }
            b.warn(&node.name, "BFD_CHECK is parsed but not supported by lvsd: it never changes the real server's state");
            CheckerKind::Bfd { name }
        }
    };
    let _ = (rs, vs);
    Some(Checker {
        at: b.at(node.loc()),
        kind,
        timing,
        conn,
    })
}

fn inherited_from(from: &Origin) -> Origin {
    inherited(Parent::VirtualServer, from)
}

fn http_check(
    b: &mut Builder<'_>,
    node: &Node,
    specific: &[&Node],
    ssl: bool,
) -> Option<HttpCheck> {
    let mut h = HttpCheck {
        urls: Vec::new(),
        virtualhost: None,
        http_protocol: HttpProtocol::Http10,
        fast_recovery: false,
        enable_sni: false,
        sni_name: None,
        tls_compliant: false,
        lvsd_verify_tls: false,
    };
    let ctx = if ssl { "in SSL_GET" } else { "in HTTP_GET" };
    for c in specific {
        let name = c.name.text.as_str();
        match name {
            "url" => {
                if let Some(children) = b.need_block(c) {
                    b.no_args(c);
                    if let Some(u) = url(b, c, children, ssl) {
                        h.urls.push(u);
                    }
                }
            }
            "virtualhost" => h.virtualhost = b.string(c),
            "http_protocol" => {
                if let Some(t) = b.first_arg(c) {
                    h.http_protocol = match t.text.as_str() {
                        "1.0" => HttpProtocol::Http10,
                        "1.0C" | "1.0c" => HttpProtocol::Http10Close,
                        "1.1" => HttpProtocol::Http11,
                        _ => {
                            b.error(
                                t,
                                format!(
                                    "`{}` is not an http_protocol (expected 1.0, 1.0C or 1.1)",
                                    t.text
                                ),
                            );
                            HttpProtocol::Http10
                        }
                    }
                }
            }
            "fast_recovery" => h.fast_recovery = b.flag(c),
            "enable_sni" if ssl => h.enable_sni = b.flag(c),
            "sni_name" if ssl => {
                b.warn(&c.name, "`sni_name` is not known to keepalived 2.2.7: this file will fail `keepalived -t` there");
                h.sni_name = b.string(c);
            }
            "tls_compliant" if ssl => h.tls_compliant = b.flag(c),
            "lvsd_verify_tls" if ssl => {
                b.warn(&c.name, "`lvsd_verify_tls` is an lvsd extension unknown to keepalived: this file will fail `keepalived -t` there");
                h.lvsd_verify_tls = b.flag(c);
            }
            _ => {
                let known: Vec<&str> = [
                    CONN_KEYWORDS,
                    TIMING_KEYWORDS,
                    HTTP_KEYWORDS,
                    if ssl { SSL_KEYWORDS } else { &[] },
                ]
                .concat();
                b.unknown(c, ctx, &known);
            }
        }
    }
    if h.urls.is_empty() {
        b.error(
            &node.name,
            format!(
                "{} needs at least one `url {{ path ... }}` block",
                node.name.text
            ),
        );
        return None;
    }
    Some(h)
}

fn url(b: &mut Builder<'_>, node: &Node, children: &[Node], ssl: bool) -> Option<UrlCheck> {
    let mut u = UrlCheck {
        path: String::new(),
        digest: None,
        status_codes: Vec::new(),
        virtualhost: None,
        regex: None,
        regex_no_match: false,
        regex_options: Vec::new(),
        regex_min_offset: None,
        regex_max_offset: None,
        tls_compliant: false,
    };
    let mut has_path = false;
    for c in children {
        match c.name.text.as_str() {
            "path" => {
                if let Some(p) = b.string(c) {
                    u.path = p;
                    has_path = true;
                }
            }
            "digest" => {
                if let Some(t) = b.first_arg(c) {
                    let d = t.text.to_ascii_lowercase();
                    if d.len() != 32 || !d.chars().all(|ch| ch.is_ascii_hexdigit()) {
                        let msg = format!(
                            "digest `{}` is not an MD5 digest: expected 32 hex characters, found {}",
                            t.text,
                            t.text.chars().count()
                        );
                        b.error(t, msg);
                    } else {
                        u.digest = Some(d);
                    }
                }
            }
            "status_code" => {
                if !b.arity(c, 1, usize::MAX) {
                    continue;
                }
                for t in &c.args {
                    match status_range(&t.text) {
                        Ok(r) => u.status_codes.push(r),
                        Err(e) => b.error(t, e),
                    }
                }
            }
            "virtualhost" => u.virtualhost = b.string(c),
            "regex" => {
                if let Some(t) = b.first_arg(c) {
                    if let Err(e) = fancy_regex::Regex::new(&t.text) {
                        let msg = format!("regex `{}` does not compile: {e}", t.text);
                        b.error(t, msg);
                    } else {
                        u.regex = Some(t.text.to_string());
                    }
                }
            }
            "regex_no_match" => u.regex_no_match = b.bare(c),
            "regex_options" => {
                u.regex_options = c.args.iter().map(|a| a.text.to_string()).collect()
            }
            "regex_min_offset" => {
                u.regex_min_offset = b.int(c, 0, u32::MAX as i64).map(|v| v as u32)
            }
            "regex_max_offset" => {
                u.regex_max_offset = b.int(c, 0, u32::MAX as i64).map(|v| v as u32)
            }
            "regex_stack" => {
                b.arity(c, 1, 2);
            }
            "tls_compliant" if ssl => u.tls_compliant = b.flag(c),
            _ => b.unknown(c, "in url", URL_KEYWORDS),
        }
    }
    if !has_path {
        b.error(&node.name, "url needs a `path`");
        return None;
    }
    if u.regex.is_none() && (u.regex_no_match || !u.regex_options.is_empty()) {
        b.warn(&node.name, "regex options without a `regex` are ignored");
    }
    Some(u)
}

/// `N` or `N-M` within 100-599.
pub fn status_range(text: &str) -> Result<(u16, u16), String> {
    let parse = |s: &str| -> Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|v| (100..=599).contains(v))
            .ok_or_else(|| format!("`{s}` is not an HTTP status code (allowed: 100 to 599)"))
    };
    match text.split_once('-') {
        Some((a, z)) => {
            let (a, z) = (parse(a)?, parse(z)?);
            if a > z {
                return Err(format!("status range `{text}` ends before it starts"));
            }
            Ok((a, z))
        }
        None => {
            let v = parse(text)?;
            Ok((v, v))
        }
    }
}

fn misc_check(
    b: &mut Builder<'_>,
    node: &Node,
    specific: &[&Node],
    inherit: &Inherit,
    cfg: &Config,
) -> Option<MiscCheck> {
    let mut path = None;
    let mut timeout = None;
    let mut dynamic = false;
    let mut user = inherit.misc_user.as_ref().map(|u| u.0.clone());
    let mut group = inherit.misc_user.as_ref().and_then(|u| u.1.clone());
    for c in specific {
        let set = b.set_at(c);
        match c.name.text.as_str() {
            "misc_path" => {
                if let Some(t) = b.first_arg(c) {
                    let script = super::super::model::Script {
                        command: t.text.to_string(),
                        user: None,
                        group: None,
                    };
                    if b.opts.host_checks {
                        host::check_script(b, t, &script);
                        if cfg.global.enable_script_security {
                            super::security::check_script_security(b, t, &script.command);
                        }
                    }
                    path = Some(t.text.to_string());
                }
            }
            "misc_timeout" => {
                if let Some(v) = b.int(c, 1, u32::MAX as i64 / 1000) {
                    timeout = Some(Sourced::new(Duration::from_secs(v as u64), set));
                }
            }
            "misc_dynamic" => dynamic = b.bare(c),
            "user" => {
                if b.arity(c, 1, 2) {
                    user = Some(c.args[0].text.to_string());
                    group = c.args.get(1).map(|t| t.text.to_string());
                }
            }
            _ => b.unknown(
                c,
                "in MISC_CHECK",
                &[
                    TIMING_KEYWORDS,
                    &["misc_path", "misc_timeout", "misc_dynamic", "user"],
                ]
                .concat(),
            ),
        }
    }
    let Some(path) = path else {
        b.error(&node.name, "MISC_CHECK needs `misc_path \"command args\"`");
        return None;
    };
    Some(MiscCheck {
        path,
        timeout: timeout.unwrap_or_else(|| {
            Sourced::new(
                inherit.vs_delay_loop,
                &"default: the virtual_server's delay_loop",
            )
        }),
        dynamic,
        user,
        group,
    })
}

fn udp_check(b: &mut Builder<'_>, specific: &[&Node]) -> UdpCheck {
    let mut u = UdpCheck {
        payload: None,
        require_reply: None,
        min_reply_length: 0,
        max_reply_length: 255,
    };
    for c in specific {
        match c.name.text.as_str() {
            "payload" => {
                if b.arity(c, 1, usize::MAX) {
                    let words: Vec<&str> = c.args.iter().map(|a| a.text.as_str()).collect();
                    match hex_pattern(&words, false) {
                        Ok(p) => u.payload = Some(p.bytes),
                        Err(e) => b.error(&c.args[0], format!("payload: {e}")),
                    }
                }
            }
            "require_reply" => {
                let words: Vec<&str> = c.args.iter().map(|a| a.text.as_str()).collect();
                match hex_pattern(&words, true) {
                    Ok(p) => u.require_reply = Some(p),
                    Err(e) => b.error(&c.args[0], format!("require_reply: {e}")),
                }
            }
            "min_reply_length" => u.min_reply_length = b.int(c, 0, 65535).unwrap_or(0) as u32,
            "max_reply_length" => u.max_reply_length = b.int(c, 0, 65535).unwrap_or(255) as u32,
            _ => b.unknown(
                c,
                "in UDP_CHECK",
                &[
                    CONN_KEYWORDS,
                    TIMING_KEYWORDS,
                    &[
                        "payload",
                        "require_reply",
                        "min_reply_length",
                        "max_reply_length",
                    ],
                ]
                .concat(),
            ),
        }
    }
    if u.min_reply_length > u.max_reply_length {
        if let Some(c) = specific.iter().find(|c| c.name.text == "min_reply_length") {
            b.error(&c.name, "min_reply_length is greater than max_reply_length");
        }
    }
    u
}

/// keepalived's free-format HEX_STR: whitespace-separated groups, each read
/// two digits at a time with an odd last digit as a whole byte
/// (`Ab12f 3 456` = AB 12 0F 03 45 06). With `wildcards`, `x`/`X` matches
/// any nibble.
pub fn hex_pattern(words: &[&str], wildcards: bool) -> Result<HexPattern, String> {
    let mut p = HexPattern {
        bytes: Vec::new(),
        mask: Vec::new(),
    };
    let nibble = |c: char| -> Result<(u8, u8), String> {
        match c {
            'x' | 'X' if wildcards => Ok((0, 0)),
            _ => c.to_digit(16).map(|d| (d as u8, 0xf)).ok_or_else(|| {
                format!(
                    "`{c}` is not a hex digit{}",
                    if wildcards { " or x" } else { "" }
                )
            }),
        }
    };
    for w in words {
        let chars: Vec<char> = w.chars().collect();
        for pair in chars.chunks(2) {
            let (v, m) = match pair {
                [hi, lo] => {
                    let (h, hm) = nibble(*hi)?;
                    let (l, lm) = nibble(*lo)?;
                    ((h << 4) | l, (hm << 4) | lm)
                }
                [only] => nibble(*only)?,
                _ => continue,
            };
            p.bytes.push(v);
            p.mask.push(m);
        }
    }
    Ok(p)
}

/// Top-level `track_file NAME { file PATH; weight W [reverse]; init_file [V] [overwrite] }`.
pub fn track_file(b: &mut Builder<'_>, node: &Node) -> Option<TrackFile> {
    let name = b.first_arg_block(node)?;
    let mut tf = TrackFile {
        name,
        file: String::new(),
        weight: 1,
        reverse: false,
        init_file: None,
    };
    for c in node.children() {
        match c.name.text.as_str() {
            "file" => {
                if let Some(f) = b.string(c) {
                    tf.file = f;
                }
            }
            "weight" => {
                if b.arity(c, 1, 2) {
                    if let Some(w) = b.int_tok(&c.args[0], -254, 254) {
                        tf.weight = w;
                    }
                    if let Some(r) = c.args.get(1) {
                        if r.text == "reverse" {
                            tf.reverse = true;
                        } else {
                            b.error(r, format!("unexpected `{}` (expected `reverse`)", r.text));
                        }
                    }
                }
            }
            "init_file" => {
                b.arity(c, 0, 2);
                let mut value = None;
                let mut overwrite = false;
                for a in &c.args {
                    if a.text == "overwrite" {
                        overwrite = true;
                    } else {
                        value = b.int_tok(a, i32::MIN as i64, i32::MAX as i64);
                    }
                }
                tf.init_file = Some((value, overwrite));
            }
            _ => b.unknown(c, "in track_file", &["file", "weight", "init_file"]),
        }
    }
    if tf.file.is_empty() {
        b.error(
            &node.name,
            format!("track_file `{}` needs `file \"PATH\"`", tf.name),
        );
        return None;
    }
    Some(tf)
}
