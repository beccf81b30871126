//! From the kernel's connection table to sync entries: each connection
//! gets its destination's forwarding method and, for firewall-mark
//! services, the mark, looked up in the IPVS table; without the table (or
//! for a destination not in it) the backup takes both from its own
//! destination, which it finds for every address-based service.

use std::collections::HashMap;
use std::net::IpAddr;

use super::conn_table::{Conn, TCP_ESTABLISHED};
use super::message::{conn_flags, SyncAddrs, SyncConn};
use crate::model::{ForwardMethod, ServiceKey, Table};

/// Destinations of a table by address, with their services.
#[derive(Debug, Default)]
pub struct DestIndex {
    by_dest: HashMap<(IpAddr, u16), Vec<(ServiceKey, ForwardMethod)>>,
}

impl DestIndex {
    pub fn new(table: &Table) -> Self {
        let mut by_dest: HashMap<(IpAddr, u16), Vec<(ServiceKey, ForwardMethod)>> = HashMap::new();
        for s in &table.services {
            for d in &s.destinations {
                by_dest
                    .entry((d.addr, d.port))
                    .or_default()
                    .push((s.service.key, d.forward));
            }
        }
        DestIndex { by_dest }
    }

    /// The forwarding method and mark for a connection to `c.daddr`.
    fn lookup(&self, c: &Conn) -> Option<(ForwardMethod, u32)> {
        let cands = self
            .by_dest
            .get(&(c.daddr, c.dport))
            .or_else(|| self.by_dest.get(&(c.daddr, 0)))?;
        let by_addr = cands.iter().find(|(k, _)| match k {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                u16::from(c.protocol) == protocol.to_raw()
                    && *addr == c.vaddr
                    && (*port == c.vport || *port == 0)
            }
            ServiceKey::Fwmark { .. } => false,
        });
        if let Some((_, f)) = by_addr {
            return Some((*f, 0));
        }
        cands.iter().find_map(|(k, f)| match k {
            ServiceKey::Fwmark { mark, .. } => Some((*f, *mark)),
            ServiceKey::Addr { .. } => None,
        })
    }
}

fn forward_bits(f: ForwardMethod) -> u32 {
    match f {
        ForwardMethod::Masq => conn_flags::MASQ,
        ForwardMethod::Local => conn_flags::LOCALNODE,
        ForwardMethod::Tunnel => conn_flags::TUNNEL,
        ForwardMethod::Route | ForwardMethod::Bypass => conn_flags::DROUTE,
    }
}

/// The sync entry for one connection; None for mixed address families.
pub fn to_sync(c: &Conn, index: Option<&DestIndex>) -> Option<SyncConn> {
    let addrs = SyncAddrs::new(c.caddr, c.vaddr, c.daddr)?;
    let (forward, mut fwmark) = index
        .and_then(|i| i.lookup(c))
        .map(|(f, m)| (forward_bits(f), m))
        .unwrap_or((conn_flags::MASQ, 0));
    let mut flags = forward;
    let timeout;
    if c.template {
        flags |= conn_flags::TEMPLATE;
        // A firewall-mark template carries the mark as its virtual address.
        if c.protocol == 0 {
            fwmark = match c.vaddr {
                IpAddr::V4(a) => u32::from(a),
                IpAddr::V6(a) => (u128::from(a) & 0xffff_ffff) as u32,
            };
        }
        // Templates keep what is left of their persistence timeout.
        timeout = c.expires.max(1);
    } else {
        let active = c.protocol == 6 && c.state == TCP_ESTABLISHED;
        if !active {
            flags |= conn_flags::INACTIVE;
        }
        timeout = 0;
    }
    Some(SyncConn {
        protocol: c.protocol,
        flags,
        state: c.state,
        addrs,
        cport: c.cport,
        vport: c.vport,
        dport: c.dport,
        fwmark,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Destination, Service, ServiceEntry};
    use crate::sync::conn_table::parse;

    fn table() -> Table {
        let svc = |key: ServiceKey| Service {
            key,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: crate::model::Netmask::V4(0xffff_ffff),
            pe_name: None,
        };
        let dest = |a: &str, port, forward| Destination {
            forward,
            ..Destination::new(a.parse().unwrap(), port)
        };
        Table {
            services: vec![
                ServiceEntry {
                    service: svc(ServiceKey::Addr {
                        protocol: crate::model::Protocol::Tcp,
                        addr: "10.0.0.1".parse().unwrap(),
                        port: 80,
                    }),
                    destinations: vec![dest("10.20.0.2", 80, ForwardMethod::Route)],
                },
                ServiceEntry {
                    service: svc(ServiceKey::Fwmark {
                        af: crate::model::AddressFamily::Inet,
                        mark: 7,
                    }),
                    destinations: vec![dest("10.20.0.3", 0, ForwardMethod::Tunnel)],
                },
            ],
        }
    }

    #[test]
    fn forwarding_method_and_mark_from_the_table() {
        let t = parse(
            "TCP 0A000002 D2F0 0A000001 0050 0A140002 0050 ESTABLISHED     899\n\
             TCP 0A000002 D2F1 0A000009 01BB 0A140003 01BB SYN_RECV         59\n\
             IP  0A000002 0000 00000007 0000 0A140003 0000 NONE            300\n\
             UDP 0A000002 1234 0A000001 0035 0A140009 0035 UDP             299\n",
        );
        let idx = DestIndex::new(&table());
        let s: Vec<SyncConn> = t
            .conns
            .iter()
            .filter_map(|c| to_sync(c, Some(&idx)))
            .collect();
        assert_eq!(
            (s[0].flags, s[0].fwmark, s[0].timeout),
            (conn_flags::DROUTE, 0, 0)
        );
        // A connection of the mark-7 service (its virtual address is not a
        // service of its own): tunnel, mark 7, inactive while SYN_RECV.
        assert_eq!(
            (s[1].flags, s[1].fwmark),
            (conn_flags::TUNNEL | conn_flags::INACTIVE, 7)
        );
        assert_eq!(
            (s[2].flags, s[2].fwmark, s[2].timeout),
            (conn_flags::TUNNEL | conn_flags::TEMPLATE, 7, 300)
        );
        // Unknown destination: masquerading, the backup's own destination decides.
        assert_eq!((s[3].flags, s[3].fwmark), (conn_flags::INACTIVE, 0));
        // Without a table.
        assert_eq!(
            to_sync(&t.conns[0], None).map(|c| c.flags),
            Some(conn_flags::MASQ)
        );
    }
}
