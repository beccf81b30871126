//! Conversions between the table model and IPVS attributes, in libipvs's
//! attribute order (so requests match ipvsadm's byte for byte), and
//! tolerant decoding of kernel replies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::DecodeError;

use super::attr::{each_attr, parse_attrs, Attr, AttrIndex, RawAttr};
use super::consts::{daemon, dest, info, stats, svc, top};
use crate::listing::{DestCounters, IpvsInfo, ListedDest, ListedService, Stats};
use crate::model::{
    addr_bytes, svc_flags, AddressFamily, Destination, ForwardMethod, Netmask, Protocol, Service,
    ServiceKey, Tunnel, TunnelCsum, TunnelType,
};

/// The service nest: identity, then (always, as libipvs) the full entry.
pub fn service_attrs(s: &Service) -> Attr {
    let af = s.key.af();
    let mut v = vec![Attr::U16(svc::AF, af.to_raw())];
    match s.key {
        ServiceKey::Fwmark { mark, .. } => v.push(Attr::U32(svc::FWMARK, mark)),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            v.push(Attr::U16(svc::PROTOCOL, protocol.to_raw()));
            v.push(Attr::Bytes(svc::ADDR, addr_bytes(&addr).to_vec()));
            v.push(Attr::U16Be(svc::PORT, port));
        }
    }
    v.push(Attr::Str(svc::SCHED_NAME, s.scheduler.clone()));
    if let Some(pe) = &s.pe_name {
        v.push(Attr::Str(svc::PE_NAME, pe.clone()));
    }
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&(s.flags & !svc_flags::HASHED).to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    v.push(Attr::Bytes(svc::FLAGS, flags.to_vec()));
    v.push(Attr::U32(svc::TIMEOUT, s.timeout));
    v.push(match s.netmask {
        Netmask::V4(m) => Attr::U32Raw(svc::NETMASK, m.to_be_bytes()),
        Netmask::V6Prefix(p) => Attr::U32(svc::NETMASK, p as u32),
    });
    Attr::Nested(top::SERVICE, v)
}

/// The destination nest (libipvs order).
pub fn dest_attrs(af: AddressFamily, d: &Destination) -> Attr {
    let dest_af = AddressFamily::of(&d.addr);
    let _ = af;
    Attr::Nested(
        top::DEST,
        vec![
            Attr::U16(dest::ADDR_FAMILY, dest_af.to_raw()),
            Attr::Bytes(dest::ADDR, addr_bytes(&d.addr).to_vec()),
            Attr::U16Be(dest::PORT, d.port),
            Attr::U32(dest::FWD_METHOD, d.forward.to_raw()),
            Attr::U32(dest::WEIGHT, d.weight),
            Attr::U8(dest::TUN_TYPE, d.tunnel.kind.to_raw()),
            Attr::U16Be(dest::TUN_PORT, d.tunnel.port),
            Attr::U16(dest::TUN_FLAGS, d.tunnel.csum.to_raw()),
            Attr::U32(dest::U_THRESH, d.u_threshold),
            Attr::U32(dest::L_THRESH, d.l_threshold),
        ],
    )
}

fn addr_from(af: u16, b: &[u8], what: &str) -> Result<IpAddr, DecodeError> {
    match AddressFamily::from_raw(af) {
        Some(AddressFamily::Inet) if b.len() >= 4 => {
            Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        Some(AddressFamily::Inet6) if b.len() >= 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => Err(DecodeError::from(format!(
            "{what}: address of {} bytes for family {af}",
            b.len()
        ))),
    }
}

fn find<'a>(attrs: &'a [RawAttr<'a>], kind: u16) -> Option<&'a RawAttr<'a>> {
    attrs.iter().find(|a| a.kind == kind)
}

fn stats_from(attrs: &AttrIndex<'_>) -> Result<Stats, DecodeError> {
    // Prefer STATS64 (all u64) over STATS (mixed u32/u64).
    let nest = attrs.get(svc::STATS64).or_else(|| attrs.get(svc::STATS));
    let Some(nest) = nest else {
        return Ok(Stats::default());
    };
    let mut s = Stats::default();
    each_attr(nest.value, |a| {
        let v = a.counter("stats")?;
        match a.kind {
            stats::CONNS => s.conns = v,
            stats::INPKTS => s.inpkts = v,
            stats::OUTPKTS => s.outpkts = v,
            stats::INBYTES => s.inbytes = v,
            stats::OUTBYTES => s.outbytes = v,
            stats::CPS => s.cps = v,
            stats::INPPS => s.inpps = v,
            stats::OUTPPS => s.outpps = v,
            stats::INBPS => s.inbps = v,
            stats::OUTBPS => s.outbps = v,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

/// Decodes a service nest (from a GET_SERVICE reply).
pub fn parse_service(nest: &[u8]) -> Result<ListedService, DecodeError> {
    let a = AttrIndex::parse(nest)?;
    let af_raw = a
        .get(svc::AF)
        .ok_or("service without address family")?
        .u16("service family")?;
    let af = AddressFamily::from_raw(af_raw)
        .ok_or_else(|| DecodeError::from(format!("unknown address family {af_raw}")))?;
    let fwmark = match a.get(svc::FWMARK) {
        Some(f) => f.u32("fwmark")?,
        None => 0,
    };
    let key = if fwmark != 0 {
        ServiceKey::Fwmark { af, mark: fwmark }
    } else {
        let proto_raw = a
            .get(svc::PROTOCOL)
            .ok_or("service without protocol")?
            .u16("protocol")?;
        let protocol = Protocol::from_raw(proto_raw)
            .ok_or_else(|| DecodeError::from(format!("unknown protocol {proto_raw}")))?;
        let addr = addr_from(
            af_raw,
            a.get(svc::ADDR).ok_or("service without address")?.value,
            "service",
        )?;
        let port = a
            .get(svc::PORT)
            .ok_or("service without port")?
            .u16_be("port")?;
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        }
    };
    let mut s = Service::new(key);
    if let Some(x) = a.get(svc::SCHED_NAME) {
        s.scheduler = x.string("scheduler")?;
    }
    if let Some(x) = a.get(svc::FLAGS) {
        s.flags = x.u32("flags")? & !svc_flags::HASHED;
    }
    if let Some(x) = a.get(svc::TIMEOUT) {
        s.timeout = x.u32("timeout")?;
    }
    if let Some(x) = a.get(svc::NETMASK) {
        s.netmask = match af {
            AddressFamily::Inet => Netmask::V4(u32::from_be_bytes(x.u32_raw("netmask")?)),
            AddressFamily::Inet6 => Netmask::V6Prefix(x.u32("prefix")?.min(128) as u8),
        };
    }
    if let Some(x) = a.get(svc::PE_NAME) {
        let pe = x.string("pe")?;
        if !pe.is_empty() {
            s.pe_name = Some(pe);
        }
    }
    Ok(ListedService {
        service: s,
        stats: stats_from(&a)?,
        destinations: Vec::new(),
    })
}

/// Decodes a destination nest (from a GET_DEST reply).
pub fn parse_dest(nest: &[u8], svc_af: AddressFamily) -> Result<ListedDest, DecodeError> {
    let a = AttrIndex::parse(nest)?;
    let d = dest_from(&a, svc_af)?;
    let mut c = DestCounters::default();
    if let Some(x) = a.get(dest::ACTIVE_CONNS) {
        c.active_conns = x.u32("active")?;
    }
    if let Some(x) = a.get(dest::INACT_CONNS) {
        c.inact_conns = x.u32("inactive")?;
    }
    if let Some(x) = a.get(dest::PERSIST_CONNS) {
        c.persist_conns = x.u32("persistent")?;
    }
    Ok(ListedDest {
        dest: d,
        counters: c,
        stats: stats_from(&a)?,
    })
}

/// Decodes only the programmed part of a destination nest (no counters or
/// statistics), for dumps that compare tables.
pub fn parse_dest_entry(nest: &[u8], svc_af: AddressFamily) -> Result<Destination, DecodeError> {
    dest_from(&AttrIndex::parse(nest)?, svc_af)
}

fn dest_from(a: &AttrIndex<'_>, svc_af: AddressFamily) -> Result<Destination, DecodeError> {
    let af = match a.get(dest::ADDR_FAMILY) {
        Some(x) => x.u16("dest family")?,
        None => svc_af.to_raw(),
    };
    let addr = addr_from(
        af,
        a.get(dest::ADDR)
            .ok_or("destination without address")?
            .value,
        "destination",
    )?;
    let port = a
        .get(dest::PORT)
        .ok_or("destination without port")?
        .u16_be("port")?;
    let mut d = Destination::new(addr, port);
    if let Some(x) = a.get(dest::FWD_METHOD) {
        let raw = x.u32("forwarding")?;
        d.forward = ForwardMethod::from_raw(raw)
            .ok_or_else(|| DecodeError::from(format!("unknown forwarding method {raw}")))?;
    }
    if let Some(x) = a.get(dest::WEIGHT) {
        d.weight = x.u32("weight")?;
    }
    if let Some(x) = a.get(dest::U_THRESH) {
        d.u_threshold = x.u32("u_threshold")?;
    }
    if let Some(x) = a.get(dest::L_THRESH) {
        d.l_threshold = x.u32("l_threshold")?;
    }
    let mut t = Tunnel::default();
    if let Some(x) = a.get(dest::TUN_TYPE) {
        t.kind = TunnelType::from_raw(x.u8("tunnel type")?).unwrap_or(TunnelType::Ipip);
    }
    if let Some(x) = a.get(dest::TUN_PORT) {
        t.port = x.u16_be("tunnel port")?;
    }
    if let Some(x) = a.get(dest::TUN_FLAGS) {
        t.csum = TunnelCsum::from_raw(x.u16("tunnel flags")?).unwrap_or(TunnelCsum::NoCsum);
    }
    d.tunnel = t;
    Ok(d)
}

/// The nest of a top-level attribute in a reply payload.
pub fn top_nest(payload: &[u8], kind: u16) -> Result<Option<Vec<u8>>, DecodeError> {
    Ok(top_nest_ref(payload, kind)?.map(<[u8]>::to_vec))
}

/// `top_nest` without copying: the nest's bytes within `payload`.
pub fn top_nest_ref(payload: &[u8], kind: u16) -> Result<Option<&[u8]>, DecodeError> {
    Ok(AttrIndex::parse(payload)?.get(kind).map(|a| a.value))
}

/// Decodes a GET_INFO reply (attribute numbers 1/2 mean VERSION/SIZE here).
pub fn parse_info(payload: &[u8]) -> Result<IpvsInfo, DecodeError> {
    let a = parse_attrs(payload)?;
    Ok(IpvsInfo {
        version: find(&a, info::VERSION)
            .ok_or("info without version")?
            .u32("version")?,
        conn_tab_size: find(&a, info::CONN_TAB_SIZE)
            .ok_or("info without table size")?
            .u32("size")?,
    })
}

/// Connection timeouts (seconds; 0 in a request = leave unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

pub fn timeout_attrs(t: &Timeouts) -> Vec<Attr> {
    vec![
        Attr::U32(top::TIMEOUT_TCP, t.tcp),
        Attr::U32(top::TIMEOUT_TCP_FIN, t.tcp_fin),
        Attr::U32(top::TIMEOUT_UDP, t.udp),
    ]
}

pub fn parse_timeouts(payload: &[u8]) -> Result<Timeouts, DecodeError> {
    let a = parse_attrs(payload)?;
    let get = |k| -> Result<u32, DecodeError> {
        match find(&a, k) {
            Some(x) => x.u32("timeout"),
            None => Ok(0),
        }
    };
    Ok(Timeouts {
        tcp: get(top::TIMEOUT_TCP)?,
        tcp_fin: get(top::TIMEOUT_TCP_FIN)?,
        udp: get(top::TIMEOUT_UDP)?,
    })
}

/// Connection-sync daemon state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    Master,
    Backup,
}

/// A connection-sync daemon (`ipvsadm --start-daemon`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub state: SyncState,
    pub mcast_ifn: String,
    pub sync_id: u32,
    pub maxlen: Option<u16>,
    pub group: Option<IpAddr>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
}

pub fn daemon_attrs(d: &SyncDaemon) -> Attr {
    let mut v = vec![
        Attr::U32(
            daemon::STATE,
            match d.state {
                SyncState::Master => 1,
                SyncState::Backup => 2,
            },
        ),
        Attr::Str(daemon::MCAST_IFN, d.mcast_ifn.clone()),
        Attr::U32(daemon::SYNC_ID, d.sync_id),
    ];
    if let Some(m) = d.maxlen {
        v.push(Attr::U16(daemon::SYNC_MAXLEN, m));
    }
    match d.group {
        Some(IpAddr::V4(g)) => v.push(Attr::U32Raw(daemon::MCAST_GROUP, g.octets())),
        Some(IpAddr::V6(g)) => v.push(Attr::Bytes(daemon::MCAST_GROUP6, g.octets().to_vec())),
        None => {}
    }
    if let Some(p) = d.port {
        v.push(Attr::U16(daemon::MCAST_PORT, p));
    }
    if let Some(t) = d.ttl {
        v.push(Attr::U8(daemon::MCAST_TTL, t));
    }
    Attr::Nested(top::DAEMON, v)
}

pub fn parse_daemon(nest: &[u8]) -> Result<SyncDaemon, DecodeError> {
    let a = parse_attrs(nest)?;
    let state = match find(&a, daemon::STATE)
        .ok_or("daemon without state")?
        .u32("state")?
    {
        1 => SyncState::Master,
        _ => SyncState::Backup,
    };
    Ok(SyncDaemon {
        state,
        mcast_ifn: match find(&a, daemon::MCAST_IFN) {
            Some(x) => x.string("ifname")?,
            None => String::new(),
        },
        sync_id: match find(&a, daemon::SYNC_ID) {
            Some(x) => x.u32("syncid")?,
            None => 0,
        },
        maxlen: find(&a, daemon::SYNC_MAXLEN)
            .map(|x| x.u16("maxlen"))
            .transpose()?,
        group: match (
            find(&a, daemon::MCAST_GROUP),
            find(&a, daemon::MCAST_GROUP6),
        ) {
            (Some(x), _) => {
                let b = x.u32_raw("group")?;
                (b != [0; 4]).then(|| IpAddr::from(b))
            }
            (None, Some(x)) if x.value.len() >= 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&x.value[..16]);
                (b != [0; 16]).then(|| IpAddr::from(b))
            }
            _ => None,
        },
        port: find(&a, daemon::MCAST_PORT)
            .map(|x| x.u16("port"))
            .transpose()?,
        ttl: find(&a, daemon::MCAST_TTL)
            .map(|x| x.u8("ttl"))
            .transpose()?,
    })
}
