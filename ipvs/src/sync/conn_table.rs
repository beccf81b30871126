//! The kernel's IPVS connection table, parsed from `/proc/net/ip_vs_conn`
//! (the same text `ipvsadm -Lnc` reads), with protocol states as numbers.
//!
//! Each line is `Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires
//! [PEName PEData]`: IPv4 addresses as 8 hex digits, IPv6 addresses in
//! colon form, ports as 4 hex digits, `Expires` in seconds. Persistence
//! templates are told apart by their state names (`NONE`/`ASSURED` with
//! client port 0, or protocol `IP` for firewall-mark templates).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where the kernel prints the table.
pub const PROC_PATH: &str = "/proc/net/ip_vs_conn";

/// One connection (or persistence template) of the kernel table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// IANA protocol number (6 TCP, 17 UDP, 132 SCTP, 0 for `IP` templates).
    pub protocol: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// The kernel's state number for the protocol (`IP_VS_TCP_S_*`, ...).
    pub state: u16,
    /// A persistence template rather than a connection.
    pub template: bool,
    /// Seconds until the entry expires.
    pub expires: u32,
}

/// A parsed table and how many lines were left out (persistence-engine
/// entries, mixed address families, unknown protocols or states, lines
/// that do not parse).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnTable {
    pub conns: Vec<Conn>,
    pub skipped: usize,
}

/// TCP state names in `IP_VS_TCP_S_*` order.
const TCP_STATES: [&str; 11] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];

/// `IP_VS_TCP_S_ESTABLISHED`.
pub const TCP_ESTABLISHED: u16 = 1;

/// Reads and parses the running kernel's table.
pub fn read() -> std::io::Result<ConnTable> {
    Ok(parse(&std::fs::read_to_string(PROC_PATH)?))
}

/// Parses the text of `/proc/net/ip_vs_conn` (header line included).
pub fn parse(text: &str) -> ConnTable {
    let mut table = ConnTable::default();
    for line in text.lines() {
        if line.starts_with("Pro ") || line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(c) => table.conns.push(c),
            None => table.skipped += 1,
        }
    }
    table
}

fn parse_line(line: &str) -> Option<Conn> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    // A persistence engine's data is not carried over: the backup needs it
    // to match the entry, so such entries are left out.
    if f.len() != 9 {
        return None;
    }
    let caddr = addr(f[1])?;
    let vaddr = addr(f[3])?;
    let daddr = addr(f[5])?;
    if caddr.is_ipv4() != vaddr.is_ipv4() || vaddr.is_ipv4() != daddr.is_ipv4() {
        return None;
    }
    let cport = u16::from_str_radix(f[2], 16).ok()?;
    let vport = u16::from_str_radix(f[4], 16).ok()?;
    let dport = u16::from_str_radix(f[6], 16).ok()?;
    let expires = f[8].parse().ok()?;
    let protocol = match f[0] {
        "TCP" => 6,
        "UDP" => 17,
        "SCTP" => 132,
        "IP" => 0,
        _ => return None,
    };
    let name = f[7];
    let template = protocol == 0 || name == "ASSURED" || (name == "NONE" && cport == 0);
    let state = if template {
        match name {
            "NONE" => 0,
            "ASSURED" => 1,
            _ => return None,
        }
    } else {
        match protocol {
            6 => TCP_STATES.iter().position(|s| *s == name)? as u16,
            17 if name == "UDP" => 0,
            // SCTP's state names are not mapped: such entries are left out.
            _ => return None,
        }
    };
    Some(Conn {
        protocol,
        caddr,
        cport,
        vaddr,
        vport,
        daddr,
        dport,
        state,
        template,
        expires,
    })
}

fn addr(s: &str) -> Option<IpAddr> {
    if s.len() == 8 && !s.contains(':') {
        return u32::from_str_radix(s, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v)));
    }
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A000002 D2F0 0A000001 0050 0A140002 0050 ESTABLISHED     899
TCP 0A000003 8001 0A000001 0050 0A140003 0050 FIN_WAIT        119
UDP 0A000002 1234 0A000001 0035 0A140002 0035 UDP             299
TCP 0A000002 0000 0A000001 0050 0A140002 0050 NONE            359
IP  0A000002 0000 00000001 0000 0A140002 0000 ASSURED         300
UDP 0A000004 13C4 0A000001 13C4 0A140002 13C4 UDP              30 sip 3a2b
TCP 2001:0db8:0000:0000:0000:0000:0000:0002 C000 2001:0db8:0000:0000:0000:0000:0000:0001 0050 2001:0db8:0000:0000:0000:0000:0001:0002 0050 SYN_RECV         59
SCTP 0A000002 1000 0A000001 0050 0A140002 0050 ESTABLISHED     899
TCP 0A000002 zzzz 0A000001 0050 0A140002 0050 ESTABLISHED     899
";

    #[test]
    fn parses_connections_templates_and_ipv6() {
        let t = parse(SAMPLE);
        assert_eq!(t.conns.len(), 6, "{t:?}");
        assert_eq!(t.skipped, 3, "sip entry, SCTP, bad port");
        let c = &t.conns[0];
        assert_eq!(
            (c.protocol, c.caddr, c.cport, c.vaddr, c.vport),
            (
                6,
                "10.0.0.2".parse().unwrap(),
                0xd2f0,
                "10.0.0.1".parse().unwrap(),
                80
            )
        );
        assert_eq!(
            (c.daddr, c.dport, c.state, c.template, c.expires),
            ("10.20.0.2".parse().unwrap(), 80, 1, false, 899)
        );
        assert_eq!(
            (t.conns[1].state, t.conns[2].protocol, t.conns[2].state),
            (4, 17, 0)
        );
        // TCP persistence template (client port 0, NONE) and a firewall-mark
        // template (protocol IP, the mark as virtual address).
        assert!(t.conns[3].template && t.conns[3].state == 0);
        assert!(t.conns[4].template && t.conns[4].state == 1 && t.conns[4].protocol == 0);
        let v6 = &t.conns[5];
        assert_eq!(v6.caddr, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!((v6.cport, v6.state), (0xc000, 3));
    }

    #[test]
    fn empty_and_header_only_tables() {
        assert_eq!(parse(""), ConnTable::default());
        assert_eq!(parse(SAMPLE.lines().next().unwrap()), ConnTable::default());
    }
}
