//! Which IPVS services a `virtual_server` stands for: one for an address or
//! fwmark, one per address (or fwmark) for a `virtual_server_group`.

use std::net::IpAddr;

use lvsd_ipvs::{svc_flags, AddressFamily, Netmask, Service, ServiceKey};

use crate::config::model::{Config, Family, VirtualServer, VsTarget, VsgEntry};

/// Most services one group entry may expand to (a /16 is 65,536).
pub const MAX_GROUP_EXPANSION: u128 = 1 << 16;

/// The service keys of a virtual server, in group order.
pub fn service_keys(vs: &VirtualServer, cfg: &Config) -> Vec<ServiceKey> {
    let protocol = vs.protocol.value;
    match &vs.target {
        VsTarget::Addr { addr, port } => vec![ServiceKey::Addr {
            protocol,
            addr: *addr,
            port: *port,
        }],
        VsTarget::Fwmark(mark) => vec![ServiceKey::Fwmark {
            af: fwmark_family(vs, None),
            mark: *mark,
        }],
        VsTarget::Group(name) => {
            let Some(group) = cfg.vs_groups.iter().find(|g| &g.name == name) else {
                return Vec::new();
            };
            let mut keys = Vec::new();
            for entry in &group.entries {
                match entry {
                    VsgEntry::Range { first, last, port } => {
                        let (a, z) = (to_u128(first), to_u128(last));
                        let count = z.saturating_sub(a).min(MAX_GROUP_EXPANSION - 1);
                        for off in 0..=count {
                            keys.push(ServiceKey::Addr {
                                protocol,
                                addr: from_u128(a + off, first.is_ipv4()),
                                port: *port,
                            });
                        }
                    }
                    VsgEntry::Fwmark { mark, family } => keys.push(ServiceKey::Fwmark {
                        af: fwmark_family(vs, *family),
                        mark: *mark,
                    }),
                }
            }
            keys
        }
    }
}

/// Family of a fwmark service: the entry's, then `ip_family`, then the first
/// real server's, then IPv4.
fn fwmark_family(vs: &VirtualServer, entry: Option<Family>) -> AddressFamily {
    let fam = entry.or(vs.ip_family).or_else(|| {
        vs.real_servers.first().map(|rs| {
            if rs.addr.is_ipv4() {
                Family::Inet
            } else {
                Family::Inet6
            }
        })
    });
    match fam {
        Some(Family::Inet6) => AddressFamily::Inet6,
        _ => AddressFamily::Inet,
    }
}

/// The IPVS service (without destinations) for one key of a virtual server.
pub fn service(vs: &VirtualServer, key: ServiceKey) -> Service {
    let mut s = Service::new(key);
    s.scheduler = vs.scheduler.value.clone();
    s.flags = vs.sched_flags;
    if vs.persistence_timeout.value > 0 {
        s.flags |= svc_flags::PERSISTENT;
        s.timeout = vs.persistence_timeout.value;
    }
    if vs.ops {
        s.flags |= svc_flags::ONEPACKET;
    }
    s.netmask = match vs.persistence_granularity {
        Some(m @ Netmask::V4(_)) if key.af() == AddressFamily::Inet => m,
        Some(m @ Netmask::V6Prefix(_)) if key.af() == AddressFamily::Inet6 => m,
        _ => Netmask::full(key.af()),
    };
    s.pe_name = vs.persistence_engine.clone();
    s
}

fn to_u128(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(*v) as u128,
        IpAddr::V6(v) => u128::from(*v),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::from((v as u32).to_be_bytes())
    } else {
        IpAddr::from(v.to_be_bytes())
    }
}
