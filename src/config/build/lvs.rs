//! `virtual_server_group`, `virtual_server` and `real_server`: keywords,
//! keepalived's defaults, inheritance into real servers, and its post-parse
//! fixups (DR/TUN port forcing, quorum clamping, ...).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use lvsd_ipvs::{svc_flags, Netmask, Protocol, Tunnel, TunnelCsum, TunnelType};

use super::super::diag::Severity;
use super::super::model::{
    Config, Family, Forwarding, Method, Origin, Pos, RealServer, SorryServer, Sourced,
    VirtualServer, VirtualServerGroup, VsTarget, VsgEntry,
};
use super::super::origin::Parent;
use super::super::tree::Node;
use super::checker::{self, Inherit};
use super::Builder;

pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

pub const VS_KEYWORDS: &[&str] = &[
    "lb_algo",
    "lvs_sched",
    "lb_kind",
    "lvs_method",
    "protocol",
    "persistence_timeout",
    "persistence_granularity",
    "persistence_engine",
    "ops",
    "hashed",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "delay_loop",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "warmup",
    "inhibit_on_failure",
    "alpha",
    "omega",
    "quorum",
    "hysteresis",
    "quorum_up",
    "quorum_down",
    "weight",
    "ha_suspend",
    "virtualhost",
    "ip_family",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "smtp_alert",
    "snmp_name",
    "real_server",
];

pub const RS_KEYWORDS: &[&str] = &[
    "weight",
    "lvs_method",
    "uthreshold",
    "lthreshold",
    "inhibit_on_failure",
    "alpha",
    "notify_up",
    "notify_down",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "virtualhost",
    "smtp_alert",
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

/// Up to this many real servers in a virtual server, duplicates are found
/// by scanning the ones already defined.
const SCAN_DUPLICATES_UP_TO: usize = 64;

pub fn vs_group(b: &mut Builder<'_>, node: &Node) -> Option<VirtualServerGroup> {
    let name = b.first_arg_block(node)?;
    let children = node.children();
    let mut entries = Vec::new();
    for c in children {
        if c.name.text == "fwmark" {
            if !b.arity(c, 1, 2) {
                continue;
            }
            let Some(mark) = b.int_tok(&c.args[0], 0, u32::MAX as i64) else {
                continue;
            };
            let family = match c.args.get(1).map(|t| t.text.as_str()) {
                None => None,
                Some("inet") => Some(Family::Inet),
                Some("inet6") => Some(Family::Inet6),
                Some(_) => {
                    b.error(&c.args[1], "fwmark family must be `inet` or `inet6`");
                    None
                }
            };
            entries.push(VsgEntry::Fwmark {
                mark: mark as u32,
                family,
            });
            continue;
        }
        // `IP [PORT]`, `A.B.C.D-E [PORT]`, `A-B [PORT]`, `A/nn [PORT]`.
        if c.block.is_some() {
            b.error(
                &c.name,
                "a virtual_server_group entry does not take a block",
            );
            continue;
        }
        if c.args.len() > 1 {
            let extra = &c.args[1];
            b.error(
                extra,
                format!("unexpected extra argument `{}` in group entry", extra.text),
            );
        }
        let port = match c.args.first() {
            Some(t) => match b.port_tok(t) {
                Some(p) => p,
                None => continue,
            },
            None => 0,
        };
        match address_range(&c.name.text) {
            Ok((first, last)) => entries.push(VsgEntry::Range { first, last, port }),
            Err(e) => b.error(&c.name, e),
        }
    }
    if entries.is_empty() {
        b.error(
            &node.name,
            format!("virtual_server_group `{name}` is empty"),
        );
        return None;
    }
    let mut v4 = false;
    let mut v6 = false;
    for e in &entries {
        match e {
            VsgEntry::Range { first, .. } => {
                if first.is_ipv4() {
                    v4 = true
                } else {
                    v6 = true
                }
            }
            VsgEntry::Fwmark { family, .. } => match family {
                Some(Family::Inet) => v4 = true,
                Some(Family::Inet6) => v6 = true,
                None => {}
            },
        }
    }
    if v4 && v6 {
        b.warn(
            &node.name,
            format!("virtual_server_group `{name}` mixes IPv4 and IPv6: valid only when every real server is TUN"),
        );
    }
    Some(VirtualServerGroup { name, entries })
}

/// `A.B.C.D`, `A.B.C.D-E` (last octet / last IPv6 group), `A-B`, `A/nn`.
pub fn address_range(text: &str) -> Result<(IpAddr, IpAddr), String> {
    if let Some((a, p)) = text.split_once('/') {
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let plen: u32 = p
            .parse()
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| format!("`{p}` is not a prefix length (allowed: 0 to {max})"))?;
        let bits = addr_to_u128(&addr);
        let host = if max - plen >= 128 {
            u128::MAX
        } else {
            (1u128 << (max - plen)) - 1
        };
        if bits & host != 0 {
            return Err(format!("{text}: the host bits must be zero"));
        }
        return Ok((addr, u128_to_addr(bits | host, addr.is_ipv4())));
    }
    if let Some((a, e)) = text.split_once('-') {
        let first: IpAddr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 or IPv6 address"))?;
        let last: IpAddr = if let Ok(full) = e.parse::<IpAddr>() {
            full
        } else if first.is_ipv4() {
            let end: u8 = e
                .parse()
                .map_err(|_| format!("range end `{e}` is not a last octet (0 to 255)"))?;
            let mut o = match first {
                IpAddr::V4(v) => v.octets(),
                IpAddr::V6(_) => unreachable_v4(),
            };
            o[3] = end;
            IpAddr::from(o)
        } else {
            let end = u16::from_str_radix(e, 16)
                .map_err(|_| format!("range end `{e}` is not a last IPv6 group (hex)"))?;
            let mut s = match first {
                IpAddr::V6(v) => v.segments(),
                IpAddr::V4(_) => [0; 8],
            };
            s[7] = end;
            IpAddr::from(s)
        };
        if first.is_ipv4() != last.is_ipv4() || addr_to_u128(&last) < addr_to_u128(&first) {
            return Err(format!("{text}: the range end is before its start"));
        }
        return Ok((first, last));
    }
    let a: IpAddr = text
        .parse()
        .map_err(|_| format!("`{text}` is not an address, range or fwmark entry"))?;
    Ok((a, a))
}

fn unreachable_v4() -> [u8; 4] {
    [0; 4]
}

pub fn addr_to_u128(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(*v) as u128,
        IpAddr::V6(v) => u128::from(*v),
    }
}

pub fn u128_to_addr(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::from((v as u32).to_be_bytes())
    } else {
        IpAddr::from(v.to_be_bytes())
    }
}

impl Builder<'_> {
    /// A block keyword with exactly one name argument.
    pub fn first_arg_block(&mut self, node: &Node) -> Option<String> {
        self.need_block(node)?;
        match node.args.len() {
            0 => {
                self.error(&node.name, format!("`{}` needs a name", node.name.text));
                None
            }
            1 => Some(node.args[0].text.to_string()),
            _ => {
                let extra = &node.args[1];
                let msg = format!("unexpected extra argument `{}` after the name", extra.text);
                self.error(extra, msg);
                Some(node.args[0].text.to_string())
            }
        }
    }

    /// `NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
    pub fn forwarding(&mut self, node: &Node) -> Option<Forwarding> {
        if !self.arity(node, 1, 6) {
            return None;
        }
        let method = match node.args[0].text.to_ascii_uppercase().as_str() {
            "NAT" => Method::Nat,
            "DR" => Method::Dr,
            "TUN" => Method::Tun,
            _ => {
                let t = &node.args[0];
                self.error(
                    t,
                    format!(
                        "`{}` is not a forwarding method (expected NAT, DR or TUN)",
                        t.text
                    ),
                );
                return None;
            }
        };
        let mut tunnel = Tunnel::default();
        let rest = &node.args[1..];
        if method != Method::Tun && !rest.is_empty() {
            self.error(&rest[0], "tunnel options are only valid with TUN");
            return Some(Forwarding { method, tunnel });
        }
        let mut i = 0;
        let mut csum_set = false;
        while i < rest.len() {
            let t = &rest[i];
            match t.text.as_str() {
                "type" => {
                    let Some(kind) = rest.get(i + 1) else {
                        self.error(t, "`type` needs ipip, gue or gre");
                        break;
                    };
                    tunnel.kind = match kind.text.as_str() {
                        "ipip" => TunnelType::Ipip,
                        "gue" => TunnelType::Gue,
                        "gre" => TunnelType::Gre,
                        _ => {
                            self.error(
                                kind,
                                format!("`{}` is not a tunnel type (ipip, gue or gre)", kind.text),
                            );
                            break;
                        }
                    };
                    i += 2;
                }
                "port" => {
                    let Some(p) = rest.get(i + 1) else {
                        self.error(t, "`port` needs a number");
                        break;
                    };
                    tunnel.port = self.int_tok(p, 1, 65535).map(|v| v as u16).unwrap_or(0);
                    i += 2;
                }
                "nocsum" | "csum" | "remcsum" => {
                    tunnel.csum = match t.text.as_str() {
                        "csum" => TunnelCsum::Csum,
                        "remcsum" => TunnelCsum::RemCsum,
                        _ => TunnelCsum::NoCsum,
                    };
                    csum_set = true;
                    i += 1;
                }
                _ => {
                    self.error(t, format!("unexpected `{}` in forwarding method", t.text));
                    break;
                }
            }
        }
        match tunnel.kind {
            TunnelType::Gue if tunnel.port == 0 => {
                self.error(&node.args[0], "TUN type gue needs `port N`");
            }
            TunnelType::Ipip if csum_set && tunnel.csum != TunnelCsum::NoCsum => {
                self.error(&node.args[0], "TUN type ipip has no checksum option");
            }
            TunnelType::Gre if tunnel.csum == TunnelCsum::RemCsum => {
                self.error(&node.args[0], "TUN type gre does not support remcsum");
            }
            _ => {}
        }
        if tunnel.kind != TunnelType::Gue && tunnel.port != 0 {
            self.error(&node.args[0], "`port` is only valid with TUN type gue");
        }
        Some(Forwarding { method, tunnel })
    }
}

struct VsRaw {
    protocol: Option<Sourced<Protocol>>,
    scheduler: Option<Sourced<String>>,
    forwarding: Option<Sourced<Forwarding>>,
    persistence_timeout: Option<Sourced<u32>>,
    granularity: Option<(Netmask, Node)>,
    weight: Option<Sourced<u32>>,
    retry: Option<Sourced<u32>>,
    delay_before_retry: Option<Sourced<Duration>>,
    warmup: Option<Sourced<Duration>>,
    sorry: Option<(IpAddr, u16)>,
    sorry_inhibit: bool,
    sorry_forwarding: Option<Forwarding>,
    quorum: Option<Sourced<u32>>,
    sched_flag_nodes: Vec<Node>,
    ops_node: Option<Node>,
    ha_suspend_node: Option<Node>,
}

pub fn virtual_server(b: &mut Builder<'_>, node: &Node, cfg: &Config) -> Option<VirtualServer> {
    let children = b.need_block(node)?;
    let target = vs_target(b, node, cfg)?;
    let at = b.at(node.loc());
    let mut vs = VirtualServer {
        at,
        target,
        protocol: Sourced::new(Protocol::Tcp, &"default"),
        scheduler: Sourced::new("wlc".to_string(), &"default"),
        forwarding: Sourced::new(Forwarding::nat(), &"default"),
        persistence_timeout: Sourced::new(0, &"default"),
        persistence_granularity: None,
        persistence_engine: None,
        ops: false,
        sched_flags: 0,
        delay_loop: Sourced::new(Duration::from_secs(60), &"default"),
        connect_timeout: Sourced::new(Duration::from_secs(5), &"default"),
        inhibit_on_failure: false,
        alpha: false,
        omega: false,
        quorum: Sourced::new(1, &"default"),
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        ha_suspend: false,
        virtualhost: None,
        ip_family: None,
        sorry_server: None,
        smtp_alert: None,
        real_servers: Vec::new(),
    };
    let mut raw = VsRaw {
        protocol: None,
        scheduler: None,
        forwarding: None,
        persistence_timeout: None,
        granularity: None,
        weight: None,
        retry: None,
        delay_before_retry: None,
        warmup: None,
        sorry: None,
        sorry_inhibit: false,
        sorry_forwarding: None,
        quorum: None,
        sched_flag_nodes: Vec::new(),
        ops_node: None,
        ha_suspend_node: None,
    };
    let mut rs_nodes = Vec::with_capacity(node.children().len());
    for c in children {
        let set = b.set_at(c);
        match c.name.text.as_str() {
            "real_server" => rs_nodes.push(c),
            "lb_algo" | "lvs_sched" => {
                if let Some(t) = b.first_arg(c) {
                    if SCHEDULERS.contains(&t.text.as_str()) {
                        raw.scheduler = Some(Sourced::new(t.text.to_string(), set));
                    } else {
                        let msg = format!(
                            "`{}` is not a scheduler (allowed: {})",
                            t.text,
                            SCHEDULERS.join(" ")
                        );
                        b.error(t, msg);
                    }
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(f) = b.forwarding(c) {
                    raw.forwarding = Some(Sourced::new(f, set));
                }
            }
            "protocol" => {
                if let Some(t) = b.first_arg(c) {
                    let p = match t.text.to_ascii_uppercase().as_str() {
                        "TCP" => Some(Protocol::Tcp),
                        "UDP" => Some(Protocol::Udp),
                        "SCTP" => Some(Protocol::Sctp),
                        _ => {
                            let msg = format!(
                                "`{}` is not a protocol (expected TCP, UDP or SCTP)",
                                t.text
                            );
                            b.error(t, msg);
                            None
                        }
                    };
                    if let Some(p) = p {
                        raw.protocol = Some(Sourced::new(p, set));
                    }
                }
            }
            "persistence_timeout" => {
                b.arity(c, 0, 1);
                let v = match c.args.first() {
                    None => Some(360),
                    Some(t) => b.int_tok(t, 1, 31 * 24 * 3600),
                };
                if let Some(v) = v {
                    raw.persistence_timeout = Some(Sourced::new(v as u32, set));
                }
            }
            "persistence_granularity" => {
                if let Some(t) = b.first_arg(c) {
                    match granularity(&t.text) {
                        Ok(m) => raw.granularity = Some((m, c.clone())),
                        Err(e) => b.error(t, e),
                    }
                }
            }
            "persistence_engine" => vs.persistence_engine = b.string(c),
            "ops" => {
                b.bare(c);
                raw.ops_node = Some(c.clone());
            }
            "hashed" => {
                b.bare(c);
            }
            "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
            | "mh-fallback" => {
                b.bare(c);
                raw.sched_flag_nodes.push(c.clone());
            }
            "delay_loop" => {
                if let Some(d) = b.timer(c, false) {
                    vs.delay_loop = Sourced::new(d, set);
                }
            }
            "connect_timeout" => {
                if let Some(d) = b.timer(c, false) {
                    vs.connect_timeout = Sourced::new(d, set);
                }
            }
            "retry" => {
                if let Some(v) = b.int(c, 1, u32::MAX as i64) {
                    raw.retry = Some(Sourced::new(v as u32, set));
                }
            }
            "delay_before_retry" => {
                if let Some(d) = b.timer(c, true) {
                    raw.delay_before_retry = Some(Sourced::new(d, set));
                }
            }
            "warmup" => {
                if let Some(d) = b.timer(c, true) {
                    raw.warmup = Some(Sourced::new(d, set));
                }
            }
            "inhibit_on_failure" => vs.inhibit_on_failure = b.flag(c),
            "alpha" => vs.alpha = b.flag(c),
            "omega" => vs.omega = b.flag(c),
            "quorum" => {
                if let Some(v) = b.int(c, 1, u32::MAX as i64) {
                    raw.quorum = Some(Sourced::new(v as u32, set));
                }
            }
            "hysteresis" => {
                if let Some(v) = b.int(c, 0, u32::MAX as i64) {
                    vs.hysteresis = v as u32;
                }
            }
            "quorum_up" => vs.quorum_up = b.script(c),
            "quorum_down" => vs.quorum_down = b.script(c),
            "weight" => {
                if let Some(v) = b.int(c, 1, i32::MAX as i64) {
                    raw.weight = Some(Sourced::new(
                        v as u32,
                        Origin::inherited(Parent::VirtualServer, &set),
                    ));
                }
            }
            "ha_suspend" => {
                b.bare(c);
                vs.ha_suspend = true;
                raw.ha_suspend_node = Some(c.clone());
            }
            "virtualhost" => vs.virtualhost = b.string(c),
            "ip_family" => {
                if let Some(t) = b.first_arg(c) {
                    vs.ip_family = match t.text.as_str() {
                        "inet" => Some(Family::Inet),
                        "inet6" => Some(Family::Inet6),
                        _ => {
                            b.error(t, "ip_family must be `inet` or `inet6`");
                            None
                        }
                    }
                }
            }
            "sorry_server" => {
                if b.arity(c, 1, 2) {
                    let addr = b.ip_tok(&c.args[0]);
                    let port = match c.args.get(1) {
                        Some(t) => b.port_tok(t),
                        None => Some(0),
                    };
                    if let (Some(a), Some(p)) = (addr, port) {
                        raw.sorry = Some((a, p));
                    }
                }
            }
            "sorry_server_inhibit" => raw.sorry_inhibit = b.flag(c),
            "sorry_server_lvs_method" => raw.sorry_forwarding = b.forwarding(c),
            "smtp_alert" => vs.smtp_alert = Some(b.flag(c)),
            "snmp_name" => {
                b.string(c);
            }
            _ => b.unknown(c, "in virtual_server", VS_KEYWORDS),
        }
    }

    // Defaults keepalived applies with a warning.
    let is_fwmark = match &vs.target {
        VsTarget::Fwmark(_) => true,
        VsTarget::Group(name) => cfg
            .vs_groups
            .iter()
            .find(|g| &g.name == name)
            .map(|g| {
                g.entries
                    .iter()
                    .all(|e| matches!(e, VsgEntry::Fwmark { .. }))
            })
            .unwrap_or(false),
        VsTarget::Addr { .. } => false,
    };
    match raw.protocol.take() {
        Some(p) if is_fwmark => {
            b.warn(
                &node.name,
                "`protocol` is ignored on a fwmark virtual_server",
            );
            vs.protocol = p;
        }
        Some(p) => vs.protocol = p,
        None if !is_fwmark => {
            b.warn(
                &node.name,
                "virtual_server has no `protocol`: defaulting to UDP as keepalived does (did you mean `protocol TCP`?)",
            );
            vs.protocol = Sourced::new(
                Protocol::Udp,
                &"default (keepalived: no protocol means UDP)",
            );
        }
        None => {}
    }
    match raw.scheduler.take() {
        Some(s) => vs.scheduler = s,
        None => b.warn(
            &node.name,
            "virtual_server has no `lb_algo`: defaulting to wlc",
        ),
    }
    match raw.forwarding.take() {
        Some(f) => vs.forwarding = f,
        None => b.warn(
            &node.name,
            "virtual_server has no `lb_kind`: defaulting to NAT",
        ),
    }
    // Scheduler flags (order-independent, unlike keepalived).
    for f in &raw.sched_flag_nodes {
        let sched = vs.scheduler.value.as_str();
        let (bit, needs) = match f.name.text.as_str() {
            "flag-1" => (svc_flags::SCHED1, None),
            "flag-2" => (svc_flags::SCHED2, None),
            "flag-3" => (svc_flags::SCHED3, None),
            "sh-fallback" => (svc_flags::SCHED_FALLBACK, Some("sh")),
            "sh-port" => (svc_flags::SCHED_PORT, Some("sh")),
            "mh-fallback" => (svc_flags::SCHED_FALLBACK, Some("mh")),
            _ => (svc_flags::SCHED_PORT, Some("mh")),
        };
        match needs {
            Some(n) if n != sched => b.error(
                &f.name,
                format!(
                    "`{}` needs `lb_algo {n}` (this virtual_server uses {sched})",
                    f.name.text
                ),
            ),
            _ => vs.sched_flags |= bit,
        }
    }
    if let Some(o) = &raw.ops_node {
        if vs.protocol.value != Protocol::Udp || is_fwmark {
            b.error(
                &o.name,
                "`ops` (one-packet scheduling) needs `protocol UDP`",
            );
        } else {
            vs.ops = true;
        }
    }
    if let Some(h) = &raw.ha_suspend_node {
        if is_fwmark {
            b.warn(
                &h.name,
                "`ha_suspend` is ignored on a fwmark virtual_server",
            );
            vs.ha_suspend = false;
        }
    }
    if let Some(pt) = raw.persistence_timeout.take() {
        vs.persistence_timeout = pt;
    }
    if let Some((mask, gnode)) = raw.granularity.take() {
        let v6 = vs_is_v6(&vs, cfg);
        match (mask, v6) {
            (Netmask::V4(_), true) | (Netmask::V6Prefix(_), false) => b.error(
                &gnode.name,
                "persistence_granularity does not match the virtual_server's address family",
            ),
            _ => {}
        }
        vs.persistence_granularity = Some(mask);
        if vs.persistence_timeout.value == 0 {
            vs.persistence_timeout = Sourced::new(360, &"implied by persistence_granularity");
        }
    }
    if let VsTarget::Addr { port: 0, .. } = vs.target {
        if vs.persistence_timeout.value == 0 {
            b.warn(
                &node.name,
                "virtual_server without a port must be persistent: persistence_timeout set to 360",
            );
            vs.persistence_timeout = Sourced::new(360, &"implied by port 0");
        }
    }

    // Real servers, inheriting from the virtual server.
    let inherit = Inherit {
        delay_loop: vs.delay_loop.clone(),
        connect_timeout: vs.connect_timeout.clone(),
        retry: raw.retry.clone(),
        delay_before_retry: raw.delay_before_retry.clone(),
        warmup: raw.warmup.clone(),
        alpha: Sourced::new(
            vs.alpha,
            if vs.alpha {
                &"inherited from virtual_server"
            } else {
                &"default"
            },
        ),
        vs_delay_loop: vs.delay_loop.value,
        log_all_failures: cfg.global.checker_log_all_failures,
        misc_user: cfg.global.script_user.clone(),
    };
    let weight = raw
        .weight
        .take()
        .unwrap_or_else(|| Sourced::new(1, &"default"));
    let rs_count = rs_nodes.len();
    // Duplicates: a scan of those defined so far for a typical virtual
    // server (cheaper than hashing each), a map for a large one.
    let mut seen: Option<HashMap<(IpAddr, u16), Pos>> =
        (rs_count > SCAN_DUPLICATES_UP_TO).then(|| HashMap::with_capacity(rs_count));
    vs.real_servers.reserve_exact(rs_count);
    for rn in rs_nodes {
        if let Some(rs) = real_server(b, rn, &vs, &weight, &inherit, cfg) {
            let key = (rs.addr, rs.port.value);
            let first = match &seen {
                Some(map) => map.get(&key).copied(),
                None => vs
                    .real_servers
                    .iter()
                    .find(|r| r.addr == key.0 && r.port.value == key.1)
                    .map(|r| r.at),
            };
            if let Some(first) = first {
                let msg = format!(
                    "duplicate real_server {} (first defined at {})",
                    lvsd_ipvs::SocketText(key.0, key.1),
                    b.sources.show(first.0)
                );
                b.error(&rn.name, msg);
                continue;
            }
            if let Some(map) = seen.as_mut() {
                map.insert(key, rs.at);
            }
            vs.real_servers.push(rs);
        }
    }
    if let Some((addr, port)) = raw.sorry {
        let forwarding = raw.sorry_forwarding.unwrap_or(vs.forwarding.value);
        let port = match (forwarding.method, &vs.target) {
            (Method::Dr | Method::Tun, VsTarget::Addr { port: vp, .. }) => *vp,
            (Method::Nat, VsTarget::Addr { port: vp, .. }) if port == 0 => *vp,
            _ => port,
        };
        vs.sorry_server = Some(SorryServer {
            addr,
            port,
            forwarding,
            inhibit: raw.sorry_inhibit,
        });
    }
    if vs.real_servers.is_empty() && vs.sorry_server.is_none() && rs_count == 0 {
        b.warn(
            &node.name,
            "virtual_server has no real servers: ignored (as keepalived does)",
        );
        return None;
    }
    // Quorum and hysteresis clamping.
    let total: u64 = vs.real_servers.iter().map(|r| r.weight.value as u64).sum();
    if let Some(q) = raw.quorum.take() {
        vs.quorum = q;
    }
    if (vs.quorum.value as u64) > total && total > 0 {
        b.warn(
            &node.name,
            format!(
                "quorum {} is more than the sum of real server weights {total}: reduced to {total}",
                vs.quorum.value
            ),
        );
        vs.quorum = Sourced::new(total as u32, &"reduced to the sum of weights");
    }
    if vs.hysteresis >= vs.quorum.value && vs.hysteresis > 0 {
        let h = vs.quorum.value.saturating_sub(1);
        b.warn(
            &node.name,
            format!(
                "hysteresis {} must be less than quorum {}: set to {h}",
                vs.hysteresis, vs.quorum.value
            ),
        );
        vs.hysteresis = h;
    }
    Some(vs)
}

fn vs_is_v6(vs: &VirtualServer, cfg: &Config) -> bool {
    match &vs.target {
        VsTarget::Addr { addr, .. } => addr.is_ipv6(),
        VsTarget::Fwmark(_) => vs.ip_family == Some(Family::Inet6),
        VsTarget::Group(name) => cfg
            .vs_groups
            .iter()
            .find(|g| &g.name == name)
            .and_then(|g| g.entries.first())
            .map(|e| match e {
                VsgEntry::Range { first, .. } => first.is_ipv6(),
                VsgEntry::Fwmark { family, .. } => *family == Some(Family::Inet6),
            })
            .unwrap_or(false),
    }
}

/// IPv4 netmask (dotted) or IPv6 prefix length.
fn granularity(text: &str) -> Result<Netmask, String> {
    if let Ok(std::net::IpAddr::V4(m)) = text.parse::<IpAddr>() {
        return Ok(Netmask::V4(u32::from(m)));
    }
    match text.parse::<u8>() {
        Ok(p) if (1..=128).contains(&p) => Ok(Netmask::V6Prefix(p)),
        _ => Err(format!(
            "`{text}` is not a persistence granularity (an IPv4 netmask such as 255.255.255.0, or an IPv6 prefix length 1 to 128)"
        )),
    }
}

fn vs_target(b: &mut Builder<'_>, node: &Node, cfg: &Config) -> Option<VsTarget> {
    let args = &node.args;
    match args.first().map(|t| t.text.as_str()) {
        None => {
            b.error(
                &node.name,
                "virtual_server needs `IP PORT`, `fwmark N` or `group NAME`",
            );
            None
        }
        Some("fwmark") => {
            if args.len() > 2 {
                b.error(
                    &args[2],
                    format!("unexpected extra argument `{}`", args[2].text),
                );
            }
            let Some(t) = args.get(1) else {
                b.error(&args[0], "`fwmark` needs a number");
                return None;
            };
            b.int_tok(t, 1, u32::MAX as i64)
                .map(|m| VsTarget::Fwmark(m as u32))
        }
        Some("group") => {
            if args.len() > 2 {
                b.error(
                    &args[2],
                    format!("unexpected extra argument `{}`", args[2].text),
                );
            }
            let Some(t) = args.get(1) else {
                b.error(&args[0], "`group` needs a virtual_server_group name");
                return None;
            };
            if !cfg.vs_groups.iter().any(|g| g.name == t.text) {
                b.error(t, format!("unknown virtual_server_group `{}`", t.text));
                return None;
            }
            Some(VsTarget::Group(t.text.to_string()))
        }
        Some(_) => {
            if args.len() > 2 {
                b.error(
                    &args[2],
                    format!("unexpected extra argument `{}`", args[2].text),
                );
            }
            let addr = b.ip_tok(&args[0])?;
            let port = match args.get(1) {
                Some(t) => b.port_tok(t)?,
                None => 0,
            };
            Some(VsTarget::Addr { addr, port })
        }
    }
}

fn real_server(
    b: &mut Builder<'_>,
    node: &Node,
    vs: &VirtualServer,
    vs_weight: &Sourced<u32>,
    inherit: &Inherit,
    cfg: &Config,
) -> Option<RealServer> {
    let children = b.need_block(node)?;
    if node.args.is_empty() || node.args.len() > 2 {
        if node.args.len() > 2 {
            b.error(
                &node.args[2],
                format!("unexpected extra argument `{}`", node.args[2].text),
            );
        } else {
            b.error(&node.name, "real_server needs `IP [PORT]`");
            return None;
        }
    }
    let addr = b.ip_tok(&node.args[0])?;
    let port_given = match node.args.get(1) {
        Some(t) => Some(b.port_tok(t)?),
        None => None,
    };
    let at = b.at(node.loc());
    let mut rs = RealServer {
        at,
        addr,
        port: Sourced::new(0, &"default"),
        weight: vs_weight.clone(),
        forwarding: Sourced::new(
            vs.forwarding.value,
            inherited(Parent::VirtualServer, &vs.forwarding.from),
        ),
        uthreshold: 0,
        lthreshold: 0,
        inhibit_on_failure: Sourced::new(
            vs.inhibit_on_failure,
            if vs.inhibit_on_failure {
                &"inherited from virtual_server"
            } else {
                &"default"
            },
        ),
        alpha: inherit.alpha.clone(),
        notify_up: None,
        notify_down: None,
        virtualhost: None,
        smtp_alert: None,
        checkers: Vec::new(),
    };
    let mut rs_inherit = inherit.clone();
    let mut checker_count = 0;
    for c in children {
        let set = b.set_at(c);
        match c.name.text.as_str() {
            "weight" => {
                if let Some(v) = b.int(c, 0, i32::MAX as i64) {
                    rs.weight = Sourced::new(v as u32, set);
                }
            }
            "lvs_method" | "lb_kind" => {
                if let Some(f) = b.forwarding(c) {
                    rs.forwarding = Sourced::new(f, set);
                }
            }
            "uthreshold" => {
                if let Some(v) = b.int(c, 0, i32::MAX as i64) {
                    rs.uthreshold = v as u32;
                }
            }
            "lthreshold" => {
                if let Some(v) = b.int(c, 0, i32::MAX as i64) {
                    rs.lthreshold = v as u32;
                }
            }
            "inhibit_on_failure" => rs.inhibit_on_failure = Sourced::new(b.flag(c), set),
            "alpha" => {
                rs.alpha = Sourced::new(b.flag(c), set);
                rs_inherit.alpha =
                    Sourced::new(rs.alpha.value, Origin::inherited(Parent::RealServer, &set));
            }
            "notify_up" => rs.notify_up = b.script(c),
            "notify_down" => rs.notify_down = b.script(c),
            "virtualhost" => rs.virtualhost = b.string(c),
            "smtp_alert" => rs.smtp_alert = Some(b.flag(c)),
            "retry" => {
                if let Some(v) = b.int(c, 1, u32::MAX as i64) {
                    rs_inherit.retry = Some(Sourced::new(
                        v as u32,
                        Origin::inherited(Parent::RealServer, &set),
                    ));
                }
            }
            "delay_before_retry" => {
                if let Some(d) = b.timer(c, true) {
                    rs_inherit.delay_before_retry =
                        Some(Sourced::new(d, Origin::inherited(Parent::RealServer, &set)));
                }
            }
            "warmup" => {
                if let Some(d) = b.timer(c, true) {
                    rs_inherit.warmup =
                        Some(Sourced::new(d, Origin::inherited(Parent::RealServer, &set)));
                }
            }
            "connect_timeout" => {
                if let Some(d) = b.timer(c, false) {
                    rs_inherit.connect_timeout =
                        Sourced::new(d, Origin::inherited(Parent::RealServer, &set));
                }
            }
            "delay_loop" => {
                if let Some(d) = b.timer(c, false) {
                    rs_inherit.delay_loop =
                        Sourced::new(d, Origin::inherited(Parent::RealServer, &set));
                }
            }
            name if checker::CHECKER_KEYWORDS.contains(&name) => checker_count += 1,
            _ => b.unknown(c, "in real_server", RS_KEYWORDS),
        }
    }
    if rs.lthreshold > rs.uthreshold && rs.uthreshold > 0 {
        b.error(
            &node.name,
            format!(
                "lthreshold {} is greater than uthreshold {}",
                rs.lthreshold, rs.uthreshold
            ),
        );
    }
    // Ports: DR/TUN use the VS port; NAT without a port inherits it; fwmark
    // services with non-NAT real servers have none.
    let vs_port = match &vs.target {
        VsTarget::Addr { port, .. } => Some(*port),
        _ => None,
    };
    let method = rs.forwarding.value.method;
    rs.port = match (method, vs_port, port_given) {
        (Method::Dr | Method::Tun, Some(vp), Some(p)) if p != vp => {
            b.warn(
                &node.name,
                format!("{} forwarding cannot change the port: real_server port {p} replaced by the virtual_server port {vp}", method_name(method)),
            );
            Sourced::new(vp, &"forced to the virtual_server port (DR/TUN)")
        }
        (Method::Dr | Method::Tun, Some(vp), _) => {
            Sourced::new(vp, &"the virtual_server port (DR/TUN)")
        }
        (Method::Dr | Method::Tun, None, _) => Sourced::new(0, &"none (fwmark service, DR/TUN)"),
        (Method::Nat, _, Some(p)) => Sourced::new(p, &"set in the real_server header"),
        (Method::Nat, Some(vp), None) => Sourced::new(vp, &"inherited from virtual_server"),
        (Method::Nat, None, None) => Sourced::new(0, &"none"),
    };
    if vs_is_v6(vs, cfg) != addr.is_ipv6() && method != Method::Tun {
        b.error(
            &node.args[0],
            "a real_server may differ in address family from its virtual_server only with TUN forwarding",
        );
    }
    rs.checkers.reserve_exact(checker_count);
    let checker_nodes = children
        .iter()
        .filter(|c| checker::CHECKER_KEYWORDS.contains(&c.name.text.as_str()));
    for c in checker_nodes {
        if let Some(chk) = checker::checker(b, c, &rs, vs, &rs_inherit, cfg) {
            rs.checkers.push(chk);
        }
    }
    Some(rs)
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Nat => "NAT",
        Method::Dr => "DR",
        Method::Tun => "TUN",
    }
}

/// Turns a parent's provenance into an inherited one.
pub fn inherited(parent: Parent, from: &Origin) -> Origin {
    Origin::inherited(parent, from)
}

/// Warns about groups no virtual server uses.
pub fn check_groups_used(b: &mut Builder<'_>, cfg: &Config) {
    for g in &cfg.vs_groups {
        let used = cfg
            .virtual_servers
            .iter()
            .any(|v| matches!(&v.target, VsTarget::Group(n) if n == &g.name));
        if !used {
            b.diags.global(
                Severity::Warning,
                format!(
                    "virtual_server_group `{}` is not used by any virtual_server",
                    g.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let (a, z) = address_range("10.0.0.1-4").unwrap();
        assert_eq!(
            (a.to_string(), z.to_string()),
            ("10.0.0.1".into(), "10.0.0.4".into())
        );
        let (a, z) = address_range("10.0.0.0/30").unwrap();
        assert_eq!(
            (a.to_string(), z.to_string()),
            ("10.0.0.0".into(), "10.0.0.3".into())
        );
        assert!(address_range("10.0.0.1/30")
            .unwrap_err()
            .contains("host bits"));
        let (_, z) = address_range("2001:db8::1-a").unwrap();
        assert_eq!(z.to_string(), "2001:db8::a");
        assert!(address_range("10.0.0.9-4").is_err());
    }
}
