//! A table in `ipvsadm -S -n` (save/restore rule) format, byte for byte as
//! ipvsadm 1.31 prints it, sorted in ipvsadm's order with a true unsigned
//! address comparison (see `ServiceKey::ipvsadm_cmp`).

use std::fmt::Write;
use std::net::IpAddr;

use crate::model::{
    svc_flags, AddressFamily, Destination, ForwardMethod, Netmask, Protocol, Service, ServiceKey,
    SocketText, Table, TunnelCsum, TunnelType,
};

/// `-t ADDR:PORT`, `-u ...`, `--sctp-service ...`, `-f MARK [-6]`.
pub fn service_switch(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let sw = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{sw} {}", SocketText(*addr, *port))
        }
        ServiceKey::Fwmark { af, mark } => match af {
            AddressFamily::Inet => format!("-f {mark}"),
            AddressFamily::Inet6 => format!("-f {mark} -6"),
        },
    }
}

/// Names of the scheduler flag bits as ipvsadm prints them.
pub fn sched_flag_names(scheduler: &str, flags: u32) -> Vec<&'static str> {
    let names: [&'static str; 3] = match scheduler {
        "sh" => ["sh-fallback", "sh-port", "flag-3"],
        "mh" => ["mh-fallback", "mh-port", "flag-3"],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    [svc_flags::SCHED1, svc_flags::SCHED2, svc_flags::SCHED3]
        .iter()
        .zip(names)
        .filter(|(bit, _)| flags & **bit != 0)
        .map(|(_, n)| n)
        .collect()
}

/// The `-A` line of a service (without newline).
pub fn service_rule(s: &Service) -> String {
    let mut out = format!("-A {} -s {}", service_switch(&s.key), s.scheduler);
    if s.flags & svc_flags::PERSISTENT != 0 {
        let _ = write!(out, " -p {}", s.timeout);
        match s.netmask {
            Netmask::V4(m) if m != 0xffff_ffff => {
                let _ = write!(out, " -M {}", std::net::Ipv4Addr::from(m));
            }
            Netmask::V6Prefix(p) if p != 128 => {
                let _ = write!(out, " -M {p}");
            }
            _ => {}
        }
    }
    if let Some(pe) = &s.pe_name {
        let _ = write!(out, " --pe {pe}");
    }
    if s.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" -o");
    }
    let names = sched_flag_names(&s.scheduler, s.flags);
    if !names.is_empty() {
        let _ = write!(out, " -b {}", names.join(","));
    }
    out
}

/// The forwarding switch ipvsadm saves (`Local` is saved as `-g`).
pub fn forward_switch(f: ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masq => "-m",
        ForwardMethod::Tunnel => "-i",
        ForwardMethod::Route | ForwardMethod::Local | ForwardMethod::Bypass => "-g",
    }
}

fn dest_addr(addr: &IpAddr, port: u16) -> String {
    SocketText(*addr, port).to_string()
}

/// The `-a` line of a destination (without newline).
pub fn dest_rule(key: &ServiceKey, d: &Destination) -> String {
    let mut out = format!(
        "-a {} -r {} {} -w {}",
        service_switch(key),
        dest_addr(&d.addr, d.port),
        forward_switch(d.forward),
        d.weight
    );
    if d.forward == ForwardMethod::Tunnel {
        let t = &d.tunnel;
        let _ = write!(out, " --tun-type {}", t.kind.name());
        if t.kind == TunnelType::Gue {
            let _ = write!(out, " --tun-port {}", t.port);
        }
        if matches!(t.kind, TunnelType::Gue | TunnelType::Gre) {
            out.push_str(match t.csum {
                TunnelCsum::NoCsum => " --tun-nocsum",
                TunnelCsum::Csum => " --tun-csum",
                TunnelCsum::RemCsum => " --tun-remcsum",
            });
        }
    }
    out
}

/// The whole table as `ipvsadm -Sn` prints it.
pub fn save_table(table: &Table) -> String {
    let mut t = table.clone();
    t.sort();
    let mut out = String::new();
    for e in &t.services {
        out.push_str(&service_rule(&e.service));
        out.push('\n');
        for d in &e.destinations {
            out.push_str(&dest_rule(&e.service.key, d));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServiceEntry, Tunnel};

    fn svc(key: ServiceKey, sched: &str) -> Service {
        let mut s = Service::new(key);
        s.scheduler = sched.into();
        s
    }

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    fn udp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    fn dest(addr: &str, port: u16, f: ForwardMethod, w: u32) -> Destination {
        let mut d = Destination::new(addr.parse().unwrap(), port);
        d.forward = f;
        d.weight = w;
        d
    }

    /// The real `ipvsadm -Sn` sample of ipvs-netlink.md §2.4 (with the
    /// 200.1.1.1/10.1.1.1 services of the same harness removed, since
    /// ipvsadm's signed comparator orders them wrongly).
    #[test]
    fn matches_ipvsadm_save_sample() {
        let mut t = Table::default();
        let k80 = tcp("192.168.10.100", 80);
        t.services.push(ServiceEntry {
            service: svc(k80, "wlc"),
            destinations: vec![
                dest("10.0.0.12", 80, ForwardMethod::Route, 1),
                dest("10.0.0.11", 80, ForwardMethod::Route, 3),
            ],
        });
        let k443 = tcp("192.168.10.100", 443);
        let mut s443 = svc(k443, "rr");
        s443.flags = svc_flags::PERSISTENT;
        s443.timeout = 300;
        s443.netmask = Netmask::V4(0xffff_ff00);
        t.services.push(ServiceEntry {
            service: s443,
            destinations: vec![dest("10.0.0.11", 443, ForwardMethod::Masq, 1)],
        });
        let k53 = udp("192.168.10.100", 53);
        let mut s53 = svc(k53, "sh");
        s53.flags = svc_flags::SCHED1 | svc_flags::SCHED2;
        t.services.push(ServiceEntry {
            service: s53,
            destinations: vec![dest("10.0.0.21", 5353, ForwardMethod::Masq, 1)],
        });
        let k5060 = udp("192.168.10.100", 5060);
        let mut s5060 = svc(k5060, "rr");
        s5060.flags = svc_flags::ONEPACKET;
        t.services.push(ServiceEntry {
            service: s5060,
            destinations: vec![],
        });
        let k6 = tcp("2001:db8::100", 80);
        let mut s6 = svc(k6, "mh");
        s6.flags = svc_flags::PERSISTENT | svc_flags::SCHED2;
        s6.timeout = 60;
        s6.netmask = Netmask::V6Prefix(64);
        t.services.push(ServiceEntry {
            service: s6,
            destinations: vec![dest("2001:db8::11", 8080, ForwardMethod::Masq, 1)],
        });
        let kf = ServiceKey::Fwmark {
            af: AddressFamily::Inet,
            mark: 10,
        };
        let mut sf = svc(kf, "wrr");
        sf.flags = svc_flags::PERSISTENT;
        sf.timeout = 360;
        let mut d1 = dest("10.0.0.31", 0, ForwardMethod::Tunnel, 2);
        d1.tunnel = Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            csum: TunnelCsum::Csum,
        };
        let d2 = dest("10.0.0.32", 0, ForwardMethod::Tunnel, 2);
        t.services.push(ServiceEntry {
            service: sf,
            destinations: vec![d2, d1],
        });
        let want = "\
-A -t 192.168.10.100:80 -s wlc
-a -t 192.168.10.100:80 -r 10.0.0.11:80 -g -w 3
-a -t 192.168.10.100:80 -r 10.0.0.12:80 -g -w 1
-A -t 192.168.10.100:443 -s rr -p 300 -M 255.255.255.0
-a -t 192.168.10.100:443 -r 10.0.0.11:443 -m -w 1
-A -u 192.168.10.100:53 -s sh -b sh-fallback,sh-port
-a -u 192.168.10.100:53 -r 10.0.0.21:5353 -m -w 1
-A -u 192.168.10.100:5060 -s rr -o
-A -t [2001:db8::100]:80 -s mh -p 60 -M 64 -b mh-port
-a -t [2001:db8::100]:80 -r [2001:db8::11]:8080 -m -w 1
-A -f 10 -s wrr -p 360
-a -f 10 -r 10.0.0.31:0 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
-a -f 10 -r 10.0.0.32:0 -i -w 2 --tun-type ipip
";
        assert_eq!(save_table(&t), want);
    }

    #[test]
    fn unsigned_order_puts_10_before_200() {
        let mut t = Table::default();
        for a in ["200.1.1.1", "10.1.1.1"] {
            t.services.push(ServiceEntry {
                service: svc(tcp(a, 25), "lc"),
                destinations: vec![],
            });
        }
        assert_eq!(
            save_table(&t),
            "-A -t 10.1.1.1:25 -s lc\n-A -t 200.1.1.1:25 -s lc\n"
        );
    }
}
