//! A `Listing` as `ipvsadm -L -n` prints it (ipvsadm 1.31), in every mode:
//! default, `--stats`, `--rate`, `--exact`, `--thresholds`,
//! `--persistent-conn`, `--tun-info`, and `-S` (save). Trailing spaces are
//! part of the format. Sorted in ipvsadm's order with a true unsigned address
//! comparison (ipvsadm's signed subtraction misorders addresses 2^31 apart).

use std::fmt::Write;

use crate::listing::{ListedDest, ListedService, Listing, Stats};
use crate::model::{
    svc_flags, AddressFamily, ForwardMethod, Netmask, ServiceKey, SocketText, TunnelCsum,
    TunnelType,
};
use crate::save::{dest_rule, sched_flag_names, service_rule};

/// Which `ipvsadm -L` mode (first set flag wins, in ipvsadm's order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub save: bool,
    pub stats: bool,
    pub rate: bool,
    pub exact: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub tun_info: bool,
}

/// `print_largenum`: 9 columns, K/M/G/T above 10^8 unless exact.
pub fn largenum(out: &mut String, i: u64, exact: bool) {
    if exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>w$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

fn title(out: &mut String, o: &ListOptions) {
    if o.stats {
        let _ = writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        );
    } else if o.rate {
        let _ = writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        );
    } else if o.thresholds {
        let _ = writeln!(
            out,
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
    } else if o.persistent_conn {
        let _ = writeln!(
            out,
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
    } else if o.tun_info {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n");
    } else {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    }
}

/// `TCP  10.0.0.1:80` (IPv4 cut to 33 columns), `FWM  10`, `FWM  10 IPv6`.
fn service_name(key: &ServiceKey) -> String {
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
            let mut s = format!("{:<4} {}", protocol.name(), SocketText(*addr, *port));
            if addr.is_ipv4() {
                s.truncate(33);
            }
            s
        }
    }
}

fn dest_name(key: &ServiceKey, d: &ListedDest) -> String {
    let mut s = SocketText(d.dest.addr, d.dest.port).to_string();
    if key.af() == AddressFamily::Inet {
        s.truncate(28);
    }
    s
}

fn forward_name(f: ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masq => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel => "Tunnel",
        ForwardMethod::Route => "Route",
        ForwardMethod::Bypass => "(null)",
    }
}

fn tun_info(d: &ListedDest) -> String {
    if d.dest.forward != ForwardMethod::Tunnel {
        return "n/a".into();
    }
    let flags = match d.dest.tunnel.csum {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    };
    match d.dest.tunnel.kind {
        TunnelType::Ipip => "ipip".into(),
        TunnelType::Gue => format!("gue:{}:{flags}", d.dest.tunnel.port),
        TunnelType::Gre => format!("gre:{flags}"),
    }
}

fn five(out: &mut String, s: &Stats, rate: bool, exact: bool) {
    let v = if rate {
        [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
    } else {
        [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
    };
    for x in v {
        largenum(out, x, exact);
    }
}

fn service_line(out: &mut String, e: &ListedService, o: &ListOptions) {
    let s = &e.service;
    if o.save {
        out.push_str(&service_rule(s));
        out.push('\n');
        return;
    }
    let name = service_name(&s.key);
    if o.stats || o.rate {
        let _ = write!(out, "{name:<33}");
        five(out, &e.stats, o.rate, o.exact);
        out.push('\n');
        return;
    }
    let _ = write!(out, "{name} {}", s.scheduler);
    let flags = sched_flag_names(&s.scheduler, s.flags);
    if !flags.is_empty() {
        let _ = write!(out, " ({})", flags.join(","));
    }
    if s.flags & svc_flags::PERSISTENT != 0 {
        let _ = write!(out, " persistent {}", s.timeout);
        match s.netmask {
            Netmask::V4(m) if m != 0xffff_ffff => {
                let _ = write!(out, " mask {}", std::net::Ipv4Addr::from(m));
            }
            Netmask::V6Prefix(p) if p != 128 => {
                let _ = write!(out, " mask {p}");
            }
            _ => {}
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(out, " pe {pe}");
        }
    }
    if s.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" ops");
    }
    out.push('\n');
}

fn dest_line(out: &mut String, key: &ServiceKey, d: &ListedDest, o: &ListOptions) {
    if o.save {
        out.push_str(&dest_rule(key, &d.dest));
        out.push('\n');
        return;
    }
    let name = dest_name(key, d);
    let c = &d.counters;
    if o.stats {
        let _ = write!(out, "  -> {name:<28}");
        five(out, &d.stats, false, o.exact);
        out.push('\n');
    } else if o.rate {
        let _ = write!(
            out,
            "  -> {name:<28} {:>8} {:>8} {:>8}",
            d.stats.cps, d.stats.inpps, d.stats.outpps
        );
        largenum(out, d.stats.inbps, o.exact);
        largenum(out, d.stats.outbps, o.exact);
        out.push('\n');
    } else if o.thresholds {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<10} {:<10} {:<10} {:<10}",
            d.dest.u_threshold, d.dest.l_threshold, c.active_conns, c.inact_conns
        );
    } else if o.persistent_conn {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<9} {:<11} {:<10} {:<10}",
            d.dest.weight, c.persist_conns, c.active_conns, c.inact_conns
        );
    } else if o.tun_info {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
            forward_name(d.dest.forward),
            tun_info(d),
            d.dest.weight as i32,
            c.active_conns,
            c.inact_conns
        );
    } else {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<7} {:<6} {:<10} {:<10}",
            forward_name(d.dest.forward),
            d.dest.weight as i32,
            c.active_conns,
            c.inact_conns
        );
    }
}

/// The listing sorted as ipvsadm sorts (unsigned address order).
pub fn sorted(l: &Listing) -> Listing {
    let mut l = l.clone();
    l.services
        .sort_by(|a, b| a.service.key.ipvsadm_cmp(&b.service.key));
    for s in &mut l.services {
        s.destinations
            .sort_by(|a, b| a.dest.key().ipvsadm_cmp(&b.dest.key()));
    }
    l
}

/// Renders a listing exactly as `ipvsadm -L -n [options]`.
pub fn list(l: &Listing, o: &ListOptions) -> String {
    let l = sorted(l);
    let mut out = String::new();
    if !o.save {
        let v = l.info.version;
        let _ = writeln!(
            out,
            "IP Virtual Server version {}.{}.{} (size={})",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff,
            l.info.conn_tab_size
        );
        title(&mut out, o);
    }
    for s in &l.services {
        service_line(&mut out, s, o);
        for d in &s.destinations {
            dest_line(&mut out, &s.service.key, d, o);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::{DestCounters, IpvsInfo};
    use crate::model::{Destination, Protocol, Service, Tunnel};

    fn ls(key: ServiceKey, sched: &str, flags: u32, timeout: u32, mask: Netmask) -> ListedService {
        let mut s = Service::new(key);
        s.scheduler = sched.into();
        s.flags = flags;
        s.timeout = timeout;
        s.netmask = mask;
        ListedService {
            service: s,
            stats: Stats::default(),
            destinations: vec![],
        }
    }

    fn ld(addr: &str, port: u16, f: ForwardMethod, w: u32, a: u32, i: u32) -> ListedDest {
        let mut d = Destination::new(addr.parse().unwrap(), port);
        d.forward = f;
        d.weight = w;
        ListedDest {
            dest: d,
            counters: DestCounters {
                active_conns: a,
                inact_conns: i,
                persist_conns: 0,
            },
            stats: Stats::default(),
        }
    }

    fn key(p: Protocol, a: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: p,
            addr: a.parse().unwrap(),
            port,
        }
    }

    /// The real `ipvsadm -Ln` output of ipvs-netlink.md §2.2 (less the
    /// 200.1.1.1 service ipvsadm misorders), trailing spaces included.
    #[test]
    fn default_listing_matches_ipvsadm() {
        let full4 = Netmask::V4(0xffff_ffff);
        let mut s80 = ls(key(Protocol::Tcp, "192.168.10.100", 80), "wlc", 0, 0, full4);
        s80.destinations = vec![
            ld("10.0.0.11", 80, ForwardMethod::Route, 3, 37, 402),
            ld("10.0.0.12", 80, ForwardMethod::Route, 1, 12, 140),
        ];
        let mut s443 = ls(
            key(Protocol::Tcp, "192.168.10.100", 443),
            "rr",
            svc_flags::PERSISTENT,
            300,
            Netmask::V4(0xffff_ff00),
        );
        s443.destinations = vec![ld("10.0.0.11", 443, ForwardMethod::Masq, 1, 2, 5)];
        let mut s25 = ls(key(Protocol::Tcp, "10.1.1.1", 25), "lc", 0, 0, full4);
        s25.destinations = vec![ld("10.9.9.9", 25, ForwardMethod::Route, 0, 0, 0)];
        let mut s53 = ls(
            key(Protocol::Udp, "192.168.10.100", 53),
            "sh",
            svc_flags::SCHED1 | svc_flags::SCHED2,
            0,
            full4,
        );
        s53.destinations = vec![ld("10.0.0.21", 5353, ForwardMethod::Masq, 1, 0, 3)];
        let mut s5060 = ls(
            key(Protocol::Udp, "192.168.10.100", 5060),
            "rr",
            svc_flags::ONEPACKET,
            0,
            full4,
        );
        s5060.destinations = vec![ld("127.0.0.1", 5060, ForwardMethod::Local, 1, 0, 0)];
        let mut s6 = ls(
            key(Protocol::Tcp, "2001:db8::100", 80),
            "mh",
            svc_flags::PERSISTENT | svc_flags::SCHED2,
            60,
            Netmask::V6Prefix(64),
        );
        s6.destinations = vec![ld("2001:db8::11", 8080, ForwardMethod::Masq, 1, 0, 0)];
        let mut sf = ls(
            ServiceKey::Fwmark {
                af: AddressFamily::Inet,
                mark: 10,
            },
            "wrr",
            svc_flags::PERSISTENT,
            360,
            full4,
        );
        let mut t1 = ld("10.0.0.31", 0, ForwardMethod::Tunnel, 2, 1, 1);
        t1.dest.tunnel = Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            csum: TunnelCsum::Csum,
        };
        sf.destinations = vec![t1, ld("10.0.0.32", 0, ForwardMethod::Tunnel, 2, 1, 1)];
        let l = Listing {
            info: IpvsInfo {
                version: 0x010201,
                conn_tab_size: 4096,
            },
            services: vec![sf, s6, s5060, s53, s25, s443, s80],
        };
        let want = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.1.1.1:25 lc
  -> 10.9.9.9:25                  Route   0      0          0         
TCP  192.168.10.100:80 wlc
  -> 10.0.0.11:80                 Route   3      37         402       
  -> 10.0.0.12:80                 Route   1      12         140       
TCP  192.168.10.100:443 rr persistent 300 mask 255.255.255.0
  -> 10.0.0.11:443                Masq    1      2          5         
UDP  192.168.10.100:53 sh (sh-fallback,sh-port)
  -> 10.0.0.21:5353               Masq    1      0          3         
UDP  192.168.10.100:5060 rr ops
  -> 127.0.0.1:5060               Local   1      0          0         
TCP  [2001:db8::100]:80 mh (mh-port) persistent 60 mask 64
  -> [2001:db8::11]:8080          Masq    1      0          0         
FWM  10 wrr persistent 360
  -> 10.0.0.31:0                  Tunnel  2      1          1         
  -> 10.0.0.32:0                  Tunnel  2      1          1         
";
        assert_eq!(list(&l, &ListOptions::default()), want);
        let tun = list(
            &l,
            &ListOptions {
                tun_info: true,
                ..Default::default()
            },
        );
        assert!(tun.contains(
            "\n  -> 10.0.0.31:0                  Tunnel  gue:6080:+c   2      1          1         \n"
        ));
    }

    #[test]
    fn stats_listing_matches_ipvsadm() {
        let mut s = ls(
            key(Protocol::Tcp, "192.168.10.100", 80),
            "wlc",
            0,
            0,
            Netmask::V4(!0),
        );
        s.stats = Stats {
            conns: 6034,
            inpkts: 81246,
            inbytes: 9625345,
            ..Default::default()
        };
        let mut d = ld("10.0.0.11", 80, ForwardMethod::Route, 3, 0, 0);
        d.stats = Stats {
            conns: 4511,
            inpkts: 61234,
            inbytes: 7234111,
            ..Default::default()
        };
        s.destinations = vec![d];
        let l = Listing {
            info: IpvsInfo {
                version: 0x010201,
                conn_tab_size: 4096,
            },
            services: vec![s],
        };
        let want = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  192.168.10.100:80                6034    81246        0  9625345        0
  -> 10.0.0.11:80                     4511    61234        0  7234111        0
";
        assert_eq!(
            list(
                &l,
                &ListOptions {
                    stats: true,
                    ..Default::default()
                }
            ),
            want
        );
    }

    #[test]
    fn largenum_boundaries() {
        let f = |i, exact| {
            let mut s = String::new();
            largenum(&mut s, i, exact);
            s
        };
        assert_eq!(f(99_999_999, false), " 99999999");
        assert_eq!(f(100_000_000, false), "  100000K");
        assert_eq!(f(1_000_000_000, false), "    1000M");
        assert_eq!(f(100_000_000_000, false), "     100G");
        assert_eq!(f(100_000_000_000_000, false), "     100T");
        assert_eq!(f(1_000_000_000, true), " 1000000000");
        assert_eq!(f(5, true), "        5");
    }
}
