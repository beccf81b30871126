//! How operators name virtual and real servers (status, watch, metrics,
//! `lvsd rs ...`): `10.0.0.1:80`, `[2001:db8::1]:80`, `fwmark:1`,
//! `group:NAME`, optionally with a protocol suffix (`10.0.0.1:53/udp`) when
//! an address serves several protocols. Pure.

use std::net::{IpAddr, SocketAddr};

use lvsd_ipvs::{Protocol, SocketText};
use thiserror::Error;

use crate::config::model::{Config, VirtualServer, VsTarget};

/// The name of a virtual server, without protocol.
pub fn vs_name(vs: &VirtualServer) -> String {
    match &vs.target {
        VsTarget::Addr { addr, port } => SocketText(*addr, *port).to_string(),
        VsTarget::Fwmark(m) => format!("fwmark:{m}"),
        VsTarget::Group(g) => format!("group:{g}"),
    }
}

/// `tcp`, `udp`, `sctp`.
pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// The name of a real server (`10.0.0.2:80`, `[2001:db8::2]:80`).
pub fn rs_name(addr: IpAddr, port: u16) -> String {
    SocketText(addr, port).to_string()
}

/// What an operator wrote to name a virtual server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsSelector {
    Addr {
        addr: SocketAddr,
        protocol: Option<Protocol>,
    },
    Fwmark(u32),
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("`{0}` is not a virtual server: use ADDR:PORT, [IPv6]:PORT, fwmark:N or group:NAME (optionally /tcp, /udp or /sctp)")]
    BadVirtualServer(String),
    #[error("`{0}` is not a real server: use ADDR:PORT or [IPv6]:PORT")]
    BadRealServer(String),
    #[error("no virtual server {0} in the running configuration")]
    NoVirtualServer(String),
    #[error("{0} matches several virtual servers: add /tcp, /udp or /sctp")]
    Ambiguous(String),
    #[error("virtual server {vs} has no real server {rs}")]
    NoRealServer { vs: String, rs: String },
}

fn parse_protocol(s: &str) -> Option<Protocol> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    }
}

impl VsSelector {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let bad = || NameError::BadVirtualServer(text.to_string());
        let t = text.trim();
        if let Some(m) = t.strip_prefix("fwmark:") {
            return m.parse().map(VsSelector::Fwmark).map_err(|_| bad());
        }
        if let Some(g) = t.strip_prefix("group:") {
            if g.is_empty() {
                return Err(bad());
            }
            return Ok(VsSelector::Group(g.to_string()));
        }
        let (addr, protocol) = match t.rsplit_once('/') {
            Some((a, p)) => (a, Some(parse_protocol(p).ok_or_else(bad)?)),
            None => (t, None),
        };
        let addr: SocketAddr = addr.parse().map_err(|_| bad())?;
        Ok(VsSelector::Addr { addr, protocol })
    }

    fn matches(&self, vs: &VirtualServer) -> bool {
        match (self, &vs.target) {
            (VsSelector::Addr { addr, protocol }, VsTarget::Addr { addr: a, port }) => {
                addr.ip() == *a
                    && addr.port() == *port
                    && protocol.is_none_or(|p| p == vs.protocol.value)
            }
            (VsSelector::Fwmark(m), VsTarget::Fwmark(n)) => m == n,
            (VsSelector::Group(g), VsTarget::Group(h)) => g == h,
            _ => false,
        }
    }

    /// The index of the one virtual server this names.
    pub fn find(&self, cfg: &Config, text: &str) -> Result<usize, NameError> {
        let mut found = cfg
            .virtual_servers
            .iter()
            .enumerate()
            .filter(|(_, vs)| self.matches(vs))
            .map(|(i, _)| i);
        match (found.next(), found.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(NameError::Ambiguous(text.to_string())),
            (None, _) => Err(NameError::NoVirtualServer(text.to_string())),
        }
    }
}

pub fn parse_rs(text: &str) -> Result<SocketAddr, NameError> {
    text.trim()
        .parse()
        .map_err(|_| NameError::BadRealServer(text.to_string()))
}

/// Finds `(vs index, rs index)` for operator-written names.
pub fn find_rs(cfg: &Config, vs: &str, rs: &str) -> Result<(usize, usize), NameError> {
    let vi = VsSelector::parse(vs)?.find(cfg, vs)?;
    let addr = parse_rs(rs)?;
    cfg.virtual_servers
        .get(vi)
        .and_then(|v| {
            v.real_servers
                .iter()
                .position(|r| r.addr == addr.ip() && r.port.value == addr.port())
        })
        .map(|ri| (vi, ri))
        .ok_or_else(|| NameError::NoRealServer {
            vs: vs.to_string(),
            rs: rs.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            VsSelector::parse("10.0.0.1:80").unwrap(),
            VsSelector::Addr {
                addr: "10.0.0.1:80".parse().unwrap(),
                protocol: None
            }
        );
        assert_eq!(
            VsSelector::parse("[2001:db8::1]:80/UDP").unwrap(),
            VsSelector::Addr {
                addr: "[2001:db8::1]:80".parse().unwrap(),
                protocol: Some(Protocol::Udp)
            }
        );
        assert_eq!(
            VsSelector::parse("fwmark:7").unwrap(),
            VsSelector::Fwmark(7)
        );
        assert_eq!(
            VsSelector::parse("group:web").unwrap(),
            VsSelector::Group("web".into())
        );
        for bad in [
            "10.0.0.1",
            "fwmark:x",
            "group:",
            "10.0.0.1:80/icmp",
            "2001:db8::1:80",
        ] {
            assert!(VsSelector::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_rs("10.0.0.2").is_err());
        assert_eq!(
            parse_rs("[2001:db8::2]:8080").unwrap().port(),
            8080,
            "bracketed IPv6"
        );
    }

    #[test]
    fn finds_in_a_config_and_reports_ambiguity() {
        let text = "virtual_server 10.0.0.1 53 {\n protocol UDP\n real_server 10.0.0.2 53 {\n }\n}\n\
                    virtual_server 10.0.0.1 53 {\n protocol TCP\n real_server 10.0.0.3 53 {\n }\n}\n\
                    virtual_server fwmark 3 {\n real_server 10.0.0.4 80 {\n }\n}\n";
        let l = crate::config::load_str(
            std::path::Path::new("t.conf"),
            text,
            &crate::config::LoadOptions::default(),
        );
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        let cfg = l.config;
        assert_eq!(
            find_rs(&cfg, "10.0.0.1:53", "10.0.0.2:53"),
            Err(NameError::Ambiguous("10.0.0.1:53".into()))
        );
        assert_eq!(find_rs(&cfg, "10.0.0.1:53/tcp", "10.0.0.3:53"), Ok((1, 0)));
        assert_eq!(find_rs(&cfg, "fwmark:3", "10.0.0.4:80"), Ok((2, 0)));
        assert!(matches!(
            find_rs(&cfg, "fwmark:3", "10.0.0.9:80"),
            Err(NameError::NoRealServer { .. })
        ));
        assert!(matches!(
            find_rs(&cfg, "10.9.9.9:1", "10.0.0.9:80"),
            Err(NameError::NoVirtualServer(_))
        ));
        assert_eq!(vs_name(&cfg.virtual_servers[2]), "fwmark:3");
    }
}
