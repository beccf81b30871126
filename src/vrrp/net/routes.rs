//! `virtual_routes`: routes that follow the VIP (added on becoming Master,
//! removed on leaving it), in keepalived's `ip route`-like syntax:
//! `[src IP] [to] PREFIX [via|gw IP] [dev IF] [scope S] [table N]
//! [metric N] [blackhole|unreachable|prohibit] [no_track]`. Parsing is
//! pure; installing goes over rtnetlink.

use std::net::IpAddr;

use rtnetlink::packet_route::route::{RouteMessage, RouteScope, RouteType};
use rtnetlink::{Handle, RouteMessageBuilder};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: IpAddr,
    pub prefix: u8,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub scope: Option<String>,
    pub table: Option<u32>,
    pub metric: Option<u32>,
    /// `blackhole`, `unreachable` or `prohibit`.
    pub kind: Option<String>,
    pub text: String,
}

impl std::fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("virtual route `{0}`: {1}")]
    Parse(String, String),
    #[error("virtual route `{0}`: {1}")]
    Netlink(String, String),
}

fn ip(text: &str, route: &str) -> Result<IpAddr, RouteError> {
    text.parse()
        .map_err(|_| RouteError::Parse(route.into(), format!("`{text}` is not an address")))
}

/// Parses one `virtual_routes` line.
pub fn parse(line: &str) -> Result<RouteSpec, RouteError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut r = RouteSpec {
        dst: IpAddr::from([0, 0, 0, 0]),
        prefix: 0,
        src: None,
        via: None,
        dev: None,
        scope: None,
        table: None,
        metric: None,
        kind: None,
        text: line.trim().to_string(),
    };
    let mut dst_seen = false;
    let mut i = 0;
    let value = |i: usize| -> Result<&str, RouteError> {
        words
            .get(i + 1)
            .copied()
            .ok_or_else(|| RouteError::Parse(line.into(), format!("`{}` needs a value", words[i])))
    };
    let number = |s: &str| -> Result<u32, RouteError> {
        s.parse()
            .map_err(|_| RouteError::Parse(line.into(), format!("`{s}` is not a number")))
    };
    while i < words.len() {
        match words[i] {
            "src" => {
                r.src = Some(ip(value(i)?, line)?);
                i += 2;
            }
            "via" | "gw" => {
                r.via = Some(ip(value(i)?, line)?);
                i += 2;
            }
            "dev" => {
                r.dev = Some(value(i)?.to_string());
                i += 2;
            }
            "scope" => {
                r.scope = Some(value(i)?.to_string());
                i += 2;
            }
            "table" => {
                r.table = Some(number(value(i)?)?);
                i += 2;
            }
            "metric" | "preference" | "priority" => {
                r.metric = Some(number(value(i)?)?);
                i += 2;
            }
            "blackhole" | "unreachable" | "prohibit" => {
                r.kind = Some(words[i].to_string());
                i += 1;
            }
            "no_track" | "to" => i += 1,
            w if !dst_seen => {
                let (a, p) = match w.split_once('/') {
                    Some((a, p)) => (a, Some(p)),
                    None => (w, None),
                };
                let a = if a == "default" {
                    IpAddr::from([0, 0, 0, 0])
                } else {
                    ip(a, line)?
                };
                let max = if a.is_ipv6() { 128 } else { 32 };
                let p = match p {
                    Some(p) => p
                        .parse::<u8>()
                        .ok()
                        .filter(|p| *p <= max)
                        .ok_or_else(|| {
                            RouteError::Parse(line.into(), format!("bad prefix length `{p}`"))
                        })?,
                    None if w == "default" => 0,
                    None => max,
                };
                r.dst = a;
                r.prefix = p;
                dst_seen = true;
                i += 1;
            }
            w => {
                return Err(RouteError::Parse(
                    line.into(),
                    format!("unexpected `{w}` (lvsd supports src, to, via/gw, dev, scope, table, metric, blackhole/unreachable/prohibit)"),
                ))
            }
        }
    }
    if !dst_seen {
        return Err(RouteError::Parse(line.into(), "no destination".into()));
    }
    Ok(r)
}

fn message(r: &RouteSpec, ifindex: Option<u32>) -> Result<RouteMessage, RouteError> {
    let err = |e: String| RouteError::Netlink(r.text.clone(), e);
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.dst, r.prefix)
        .map_err(|e| err(e.to_string()))?;
    if let Some(v) = r.via {
        b = b.gateway(v).map_err(|e| err(e.to_string()))?;
    }
    if let Some(s) = r.src {
        b = b.pref_source(s).map_err(|e| err(e.to_string()))?;
    }
    if let Some(i) = ifindex {
        b = b.output_interface(i);
    }
    if let Some(t) = r.table {
        b = b.table_id(t);
    }
    if let Some(m) = r.metric {
        b = b.priority(m);
    }
    match r.scope.as_deref() {
        Some("host") => b = b.scope(RouteScope::Host),
        Some("link") => b = b.scope(RouteScope::Link),
        Some("site") => b = b.scope(RouteScope::Site),
        Some("nowhere") => b = b.scope(RouteScope::NoWhere),
        _ if r.via.is_none() && r.kind.is_none() => b = b.scope(RouteScope::Link),
        _ => {}
    }
    match r.kind.as_deref() {
        Some("blackhole") => b = b.kind(RouteType::BlackHole),
        Some("unreachable") => b = b.kind(RouteType::Unreachable),
        Some("prohibit") => b = b.kind(RouteType::Prohibit),
        _ => {}
    }
    Ok(b.build())
}

/// Adds `r` (an existing identical route is fine).
pub async fn add(h: &Handle, r: &RouteSpec, ifindex: Option<u32>) -> Result<(), RouteError> {
    let m = message(r, ifindex)?;
    match h.route().add(m).replace().execute().await {
        Ok(()) => Ok(()),
        Err(e) => Err(RouteError::Netlink(r.text.clone(), e.to_string())),
    }
}

/// Removes `r` (already gone is fine).
pub async fn remove(h: &Handle, r: &RouteSpec, ifindex: Option<u32>) -> Result<(), RouteError> {
    let m = message(r, ifindex)?;
    match h.route().del(m).execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e))
            if matches!(-e.raw_code(), libc::ESRCH | libc::ENOENT) =>
        {
            Ok(())
        }
        Err(e) => Err(RouteError::Netlink(r.text.clone(), e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_route_lines() {
        let r =
            parse("src 10.0.0.100 to 192.168.2.0/24 via 10.0.0.254 dev eth1 table 100 metric 5")
                .unwrap();
        assert_eq!(r.dst, "192.168.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(r.prefix, 24);
        assert_eq!(r.src, Some("10.0.0.100".parse().unwrap()));
        assert_eq!(r.via, Some("10.0.0.254".parse().unwrap()));
        assert_eq!(r.dev.as_deref(), Some("eth1"));
        assert_eq!((r.table, r.metric), (Some(100), Some(5)));
        let b = parse("blackhole 10.9.0.0/16").unwrap();
        assert_eq!(b.kind.as_deref(), Some("blackhole"));
        let d = parse("default gw 10.0.0.1").unwrap();
        assert_eq!(d.prefix, 0);
        let h = parse("2001:db8::/48 dev eth0 no_track").unwrap();
        assert_eq!(h.prefix, 48);
        assert!(parse("10.0.0.0/33").is_err());
        assert!(parse("via 10.0.0.1").is_err());
        assert!(parse("10.0.0.0/8 weird thing").is_err());
    }
}
