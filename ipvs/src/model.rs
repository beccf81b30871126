//! The IPVS table as data: services, destinations and their identities.
//!
//! This module owns the vocabulary every other part of lvsd uses to talk about
//! the kernel table: what identifies a service (`ServiceKey`), what a service
//! and a destination carry, and a whole `Table`. It holds no I/O and knows
//! nothing of keepalived.conf or health checks.

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Address family of a service or destination (`AF_INET` / `AF_INET6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AddressFamily {
    Inet,
    Inet6,
}

impl AddressFamily {
    /// The kernel's `AF_*` number.
    pub fn to_raw(self) -> u16 {
        match self {
            AddressFamily::Inet => 2,
            AddressFamily::Inet6 => 10,
        }
    }

    pub fn from_raw(raw: u16) -> Option<Self> {
        match raw {
            2 => Some(AddressFamily::Inet),
            10 => Some(AddressFamily::Inet6),
            _ => None,
        }
    }

    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        }
    }
}

/// Transport protocol of an address-based service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// IANA protocol number, as carried in `IPVS_SVC_ATTR_PROTOCOL`.
    pub fn to_raw(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_raw(raw: u16) -> Option<Self> {
        match raw {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// ipvsadm's protocol column (`TCP`, `UDP`, `SCTP`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceKey {
    /// `-t/-u/--sctp-service ADDR:PORT`.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// `-f MARK [-6]`.
    Fwmark { af: AddressFamily, mark: u32 },
}

impl ServiceKey {
    pub fn af(&self) -> AddressFamily {
        match self {
            ServiceKey::Addr { addr, .. } => AddressFamily::of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }

    pub fn fwmark(&self) -> u32 {
        match self {
            ServiceKey::Addr { .. } => 0,
            ServiceKey::Fwmark { mark, .. } => *mark,
        }
    }

    /// ipvsadm's service order (libipvs `ipvs_cmp_services`), but with a true
    /// unsigned address comparison: fwmark, family, protocol, address, port.
    pub fn ipvsadm_cmp(&self, other: &Self) -> Ordering {
        fn parts(k: &ServiceKey) -> (u32, AddressFamily, u16, [u8; 16], u16) {
            match *k {
                ServiceKey::Addr {
                    protocol,
                    addr,
                    port,
                } => (
                    0,
                    AddressFamily::of(&addr),
                    protocol.to_raw(),
                    addr_bytes(&addr),
                    port,
                ),
                ServiceKey::Fwmark { af, mark } => (mark, af, 0, [0; 16], 0),
            }
        }
        parts(self).cmp(&parts(other))
    }
}

impl fmt::Display for ServiceKey {
    /// `TCP 10.0.0.1:80`, `UDP [2001:db8::1]:53`, `FWM 10`, `FWM 10 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{} {}", protocol.name(), SocketText(*addr, *port)),
            ServiceKey::Fwmark { af, mark } => match af {
                AddressFamily::Inet => write!(f, "FWM {mark}"),
                AddressFamily::Inet6 => write!(f, "FWM {mark} IPv6"),
            },
        }
    }
}

/// Formats `addr:port` with IPv6 in brackets, as ipvsadm does.
#[derive(Debug, Clone, Copy)]
pub struct SocketText(pub IpAddr, pub u16);

impl fmt::Display for SocketText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// Big-endian 16-byte form of an address (IPv4 in the first four bytes, as
/// the kernel's `union nf_inet_addr`). Used for ordering and the wire.
pub fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out.copy_from_slice(&a.octets()),
    }
    out
}

/// Service flag bits (`IP_VS_SVC_F_*`).
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    /// Kernel-internal; present on every live service, masked when comparing.
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// `sh-fallback` / `mh-fallback`.
    pub const SCHED_FALLBACK: u32 = SCHED1;
    /// `sh-port` / `mh-port`.
    pub const SCHED_PORT: u32 = SCHED2;
}

/// Persistence granularity: an IPv4 netmask or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Netmask {
    /// IPv4 mask in host order (`0xffffffff` = /32, the default).
    V4(u32),
    /// IPv6 prefix length 1..=128 (128 is the default).
    V6Prefix(u8),
}

impl Netmask {
    /// The default granularity for a family (/32 or /128).
    pub fn full(af: AddressFamily) -> Self {
        match af {
            AddressFamily::Inet => Netmask::V4(0xffff_ffff),
            AddressFamily::Inet6 => Netmask::V6Prefix(128),
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, Netmask::V4(0xffff_ffff) | Netmask::V6Prefix(128))
    }
}

/// A virtual service as programmed in the kernel (without its destinations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler module name without the `ip_vs_` prefix (`wlc`, `rr`, ...).
    pub scheduler: String,
    /// `svc_flags::*` bits, HASHED excluded.
    pub flags: u32,
    /// Persistence timeout in seconds (meaningful with `PERSISTENT`).
    pub timeout: u32,
    pub netmask: Netmask,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: `wlc`, no flags, full netmask.
    pub fn new(key: ServiceKey) -> Self {
        Service {
            key,
            scheduler: "wlc".to_string(),
            flags: 0,
            timeout: 0,
            netmask: Netmask::full(key.af()),
            pe_name: None,
        }
    }

    pub fn is_persistent(&self) -> bool {
        self.flags & svc_flags::PERSISTENT != 0
    }
}

/// Forwarding method of a destination (`IP_VS_CONN_F_*` & 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ForwardMethod {
    /// NAT, `-m`, shown as `Masq`.
    Masq,
    /// `Local` (shown as such, saved as `-g`).
    Local,
    /// IP-in-IP / GUE / GRE, `-i`, shown as `Tunnel`.
    Tunnel,
    /// Direct routing, `-g`, shown as `Route`.
    Route,
    /// Kernel-internal bypass (4).
    Bypass,
}

impl ForwardMethod {
    pub fn to_raw(self) -> u32 {
        match self {
            ForwardMethod::Masq => 0,
            ForwardMethod::Local => 1,
            ForwardMethod::Tunnel => 2,
            ForwardMethod::Route => 3,
            ForwardMethod::Bypass => 4,
        }
    }

    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw & 7 {
            0 => Some(ForwardMethod::Masq),
            1 => Some(ForwardMethod::Local),
            2 => Some(ForwardMethod::Tunnel),
            3 => Some(ForwardMethod::Route),
            4 => Some(ForwardMethod::Bypass),
            _ => None,
        }
    }
}

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

impl TunnelType {
    pub fn to_raw(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        }
    }

    pub fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            0 => Some(TunnelType::Ipip),
            1 => Some(TunnelType::Gue),
            2 => Some(TunnelType::Gre),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        }
    }
}

/// Tunnel checksum option (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelCsum {
    NoCsum,
    Csum,
    RemCsum,
}

impl TunnelCsum {
    pub fn to_raw(self) -> u16 {
        match self {
            TunnelCsum::NoCsum => 0,
            TunnelCsum::Csum => 1,
            TunnelCsum::RemCsum => 2,
        }
    }

    pub fn from_raw(raw: u16) -> Option<Self> {
        match raw {
            0 => Some(TunnelCsum::NoCsum),
            1 => Some(TunnelCsum::Csum),
            2 => Some(TunnelCsum::RemCsum),
            _ => None,
        }
    }
}

/// Tunnel parameters of a `Tunnel` destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tunnel {
    pub kind: TunnelType,
    /// GUE destination port (0 otherwise).
    pub port: u16,
    pub csum: TunnelCsum,
}

impl Default for Tunnel {
    fn default() -> Self {
        Tunnel {
            kind: TunnelType::Ipip,
            port: 0,
            csum: TunnelCsum::NoCsum,
        }
    }
}

/// A real server (destination) of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: ForwardMethod,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tunnel: Tunnel,
}

impl Destination {
    /// A destination with ipvsadm's defaults: DR (`-g`), weight 1.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Destination {
            addr,
            port,
            forward: ForwardMethod::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Tunnel::default(),
        }
    }

    /// What identifies a destination within its service.
    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// Identity of a destination within a service: address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl DestKey {
    /// ipvsadm's destination order (address, then port), unsigned.
    pub fn ipvsadm_cmp(&self, other: &Self) -> Ordering {
        (addr_bytes(&self.addr), self.port).cmp(&(addr_bytes(&other.addr), other.port))
    }
}

impl PartialOrd for DestKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DestKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ipvsadm_cmp(other)
    }
}

impl PartialOrd for ServiceKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ServiceKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ipvsadm_cmp(other)
    }
}

/// A service and its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub destinations: Vec<Destination>,
}

/// A whole IPVS table (or the part of it lvsd wants), in no particular order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub services: Vec<ServiceEntry>,
}

impl Table {
    /// Sorts services and destinations in ipvsadm's listing order (true
    /// unsigned address order; see `ServiceKey::ipvsadm_cmp`).
    pub fn sort(&mut self) {
        self.services
            .sort_by(|a, b| a.service.key.ipvsadm_cmp(&b.service.key));
        for entry in &mut self.services {
            entry
                .destinations
                .sort_by(|a, b| a.key().ipvsadm_cmp(&b.key()));
        }
    }

    pub fn find(&self, key: &ServiceKey) -> Option<&ServiceEntry> {
        self.services.iter().find(|e| &e.service.key == key)
    }
}
