//! The words and names ipvsadm prints for services and destinations, shared
//! by the listing and save formats (ipvsadm.c `fwd_name`, `fwd_switch`,
//! `fwd_tun_info`, `print_sched_flags`, the `svc_name` of
//! `print_service_entry`).

use crate::model::{
    svc_flags, AddressFamily, ForwardMethod, Protocol, ServiceKey, SocketText, Tunnel, TunnelCsum,
    TunnelType,
};

/// Listing name of a service: `TCP  10.0.0.1:80` (`%-4s %s`, IPv4 cut to
/// 33 bytes), `FWM  10`, `FWM  10 IPv6`.
pub fn service_list_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark { af, mark } => match af {
            AddressFamily::Inet => format!("FWM  {mark}"),
            AddressFamily::Inet6 => format!("FWM  {mark} IPv6"),
        },
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let mut name = format!("{:<4} {}", protocol.name(), SocketText(*addr, *port));
            if addr.is_ipv4() {
                name.truncate(33);
            }
            name
        }
    }
}

/// Listing name of a destination: `addr:port`, IPv4 cut to 28 bytes (by the
/// destination's own family, as ipvsadm does for mixed-family tunnels).
pub fn dest_list_name(addr: std::net::IpAddr, port: u16) -> String {
    let mut name = SocketText(addr, port).to_string();
    if addr.is_ipv4() {
        name.truncate(28);
    }
    name
}

/// Save-rule name of a service: `-t ADDR:PORT`, `-u ...`,
/// `--sctp-service ...`, `-f MARK`, `-f MARK -6`.
pub fn service_switch(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let switch = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{switch} {}", SocketText(*addr, *port))
        }
        ServiceKey::Fwmark { af, mark } => match af {
            AddressFamily::Inet => format!("-f {mark}"),
            AddressFamily::Inet6 => format!("-f {mark} -6"),
        },
    }
}

/// Names of the set scheduler flag bits, as `print_sched_flags` prints them:
/// `sh-fallback`/`sh-port` for sh, `mh-*` for mh (whose third bit has no
/// name and is not shown), `flag-1..3` for every other scheduler.
pub fn sched_flag_names(scheduler: &str, flags: u32) -> Vec<&'static str> {
    let named: &[(u32, &'static str)] = match scheduler {
        "sh" => &[
            (svc_flags::SCHED_FALLBACK, "sh-fallback"),
            (svc_flags::SCHED_PORT, "sh-port"),
        ],
        "mh" => &[
            (svc_flags::SCHED_FALLBACK, "mh-fallback"),
            (svc_flags::SCHED_PORT, "mh-port"),
        ],
        _ => &[
            (svc_flags::SCHED1, "flag-1"),
            (svc_flags::SCHED2, "flag-2"),
            (svc_flags::SCHED3, "flag-3"),
        ],
    };
    named
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The scheduler-flags text, or `None` when no SCHED bit is set. As in
/// ipvsadm, a bit without a name (sh's third) still opens the group, so
/// the text can be empty (`sh ()`).
pub fn sched_flags_text(scheduler: &str, flags: u32) -> Option<String> {
    let any = svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3;
    (flags & any != 0).then(|| sched_flag_names(scheduler, flags).join(","))
}

/// The Forward column (`fwd_name`). Bypass has no name: glibc prints a
/// NULL `%s` as `(null)`.
pub fn forward_name(forward: ForwardMethod) -> &'static str {
    match forward {
        ForwardMethod::Masq => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel => "Tunnel",
        ForwardMethod::Route => "Route",
        ForwardMethod::Bypass => "(null)",
    }
}

/// The saved forwarding switch (`fwd_switch`): `Local` is saved as `-g`,
/// Bypass has none (`(null)`).
pub fn forward_switch(forward: ForwardMethod) -> &'static str {
    match forward {
        ForwardMethod::Masq => "-m",
        ForwardMethod::Tunnel => "-i",
        ForwardMethod::Route | ForwardMethod::Local => "-g",
        ForwardMethod::Bypass => "(null)",
    }
}

/// `-c`, `+c`, `r+c` (ipvsadm's `tunflags`).
pub fn tunnel_csum_short(csum: TunnelCsum) -> &'static str {
    match csum {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    }
}

/// `--tun-nocsum`, `--tun-csum`, `--tun-remcsum` (`tun_flags_opts`).
pub fn tunnel_csum_option(csum: TunnelCsum) -> &'static str {
    match csum {
        TunnelCsum::NoCsum => "--tun-nocsum",
        TunnelCsum::Csum => "--tun-csum",
        TunnelCsum::RemCsum => "--tun-remcsum",
    }
}

/// The TunnelInfo column (`fwd_tun_info`): `ipip`, `gue:PORT:+c`, `gre:-c`,
/// or `n/a` for a destination that does not tunnel.
pub fn tunnel_info(forward: ForwardMethod, tunnel: &Tunnel) -> String {
    if forward != ForwardMethod::Tunnel {
        return "n/a".to_string();
    }
    match tunnel.kind {
        TunnelType::Ipip => "ipip".to_string(),
        TunnelType::Gue => format!("gue:{}:{}", tunnel.port, tunnel_csum_short(tunnel.csum)),
        TunnelType::Gre => format!("gre:{}", tunnel_csum_short(tunnel.csum)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_service_name_is_cut_to_33_bytes_ipv6_is_not() {
        let v4 = ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: "255.255.255.255".parse().unwrap(),
            port: 65535,
        };
        // "SCTP 255.255.255.255:65535" is 26 bytes: not cut.
        assert_eq!(service_list_name(&v4), "SCTP 255.255.255.255:65535");
        let v6 = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "2001:db8:1111:2222:3333:4444:5555:6666".parse().unwrap(),
            port: 443,
        };
        assert_eq!(
            service_list_name(&v6),
            "TCP  [2001:db8:1111:2222:3333:4444:5555:6666]:443"
        );
        assert_eq!(
            dest_list_name("2001:db8:1111:2222:3333:4444:5555:6666".parse().unwrap(), 1),
            "[2001:db8:1111:2222:3333:4444:5555:6666]:1"
        );
    }

    #[test]
    fn sched_flags_follow_the_scheduler() {
        let all = svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3;
        assert_eq!(sched_flags_text("sh", all).unwrap(), "sh-fallback,sh-port");
        assert_eq!(
            sched_flags_text("mh", svc_flags::SCHED2).unwrap(),
            "mh-port"
        );
        assert_eq!(sched_flags_text("rr", all).unwrap(), "flag-1,flag-2,flag-3");
        assert_eq!(sched_flags_text("sh", svc_flags::SCHED3).unwrap(), "");
        assert_eq!(sched_flags_text("wlc", svc_flags::PERSISTENT), None);
    }

    #[test]
    fn tunnel_info_forms() {
        let gue = Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            csum: TunnelCsum::Csum,
        };
        assert_eq!(tunnel_info(ForwardMethod::Tunnel, &gue), "gue:6080:+c");
        let gre = Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            csum: TunnelCsum::RemCsum,
        };
        assert_eq!(tunnel_info(ForwardMethod::Tunnel, &gre), "gre:r+c");
        assert_eq!(
            tunnel_info(ForwardMethod::Tunnel, &Tunnel::default()),
            "ipip"
        );
        assert_eq!(tunnel_info(ForwardMethod::Route, &gue), "n/a");
    }
}
