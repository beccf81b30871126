//! The VRRP advertisement on the wire (RFC 3768 §5 for v2, RFC 5798/9568 §5
//! for v3): encoding, checksums, and decoding with the receive drop rules
//! that depend only on the packet (TTL, version, type, length, checksum,
//! address count). Rules that depend on the local instance (VRID, auth,
//! interval) are in `validate`.
//!
//! VRRPv3 over IPv4 has two checksum forms in the wild: with the IPv4
//! pseudo-header (keepalived, FRR: the default here, for interop) and
//! without (RFC 9568, keepalived's `v3_checksum_as_v2`). Both are accepted
//! on receive.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The VRRP IPv4 multicast group.
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group.
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 2338's types, kept by keepalived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Simple text password, at most 8 bytes, zero padded.
    Pass([u8; 8]),
}

impl Auth {
    pub fn pass(text: &str) -> Auth {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(text.bytes()) {
            *d = s;
        }
        Auth::Pass(b)
    }
    fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
        }
    }
}

/// A decoded (or to-be-encoded) advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// The advertisement interval in centiseconds (v2 carries whole
    /// seconds: 100 x the seconds field).
    pub interval_cs: u16,
    /// v2 only; `Auth::None` for v3.
    pub auth: Auth,
    /// The virtual addresses carried, all of one family.
    pub addrs: Vec<IpAddr>,
}

/// Which checksum form a VRRPv3-over-IPv4 packet used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumForm {
    /// v2, and v3 per RFC 9568 for IPv4: the message alone.
    Plain,
    /// The message plus the IP pseudo-header (v3 IPv6; keepalived's v3 IPv4).
    PseudoHeader,
}

/// Why a received packet was dropped. Each has a counter and a
/// rate-limited log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DropReason {
    #[error("packet shorter than its headers ({0} bytes)")]
    Truncated(usize),
    #[error("not VRRP (IP protocol {0})")]
    NotVrrp(u8),
    #[error("TTL/hop limit {0}, not 255 (RFC 3768/5798 §7.1: only on-link senders)")]
    BadTtl(u8),
    #[error("VRRP version {0} (expected {1})")]
    BadVersion(u8, u8),
    #[error("VRRP type {0} (only 1, ADVERTISEMENT, exists)")]
    BadType(u8),
    #[error("address count 0")]
    NoAddresses,
    #[error("message length {got} does not match {count} addresses (expected {expected})")]
    BadLength {
        got: usize,
        count: u8,
        expected: usize,
    },
    #[error("bad checksum")]
    BadChecksum,
    #[error("VRRPv3 max advertisement interval 0")]
    ZeroInterval,
    #[error("virtual router id {0} is not configured on this interface")]
    UnknownVrid(u8),
    #[error("we are the address owner (priority 255)")]
    Owner,
    #[error("authentication mismatch")]
    AuthMismatch,
    #[error("advertisement interval {got_cs}cs differs from ours {ours_cs}cs (VRRPv2 must drop)")]
    IntervalMismatch { got_cs: u16, ours_cs: u16 },
    #[error("source {0} is not a configured unicast peer")]
    UnknownSource(IpAddr),
}

impl DropReason {
    /// A stable short name, for counters and metrics labels.
    pub fn key(&self) -> &'static str {
        match self {
            DropReason::Truncated(_) => "truncated",
            DropReason::NotVrrp(_) => "not_vrrp",
            DropReason::BadTtl(_) => "ttl",
            DropReason::BadVersion(..) => "version",
            DropReason::BadType(_) => "type",
            DropReason::NoAddresses => "no_addresses",
            DropReason::BadLength { .. } => "length",
            DropReason::BadChecksum => "checksum",
            DropReason::ZeroInterval => "interval_zero",
            DropReason::UnknownVrid(_) => "vrid",
            DropReason::Owner => "owner",
            DropReason::AuthMismatch => "auth",
            DropReason::IntervalMismatch { .. } => "interval",
            DropReason::UnknownSource(_) => "source",
        }
    }
}

/// RFC 1071 one's-complement sum over `parts` (odd lengths padded).
pub(crate) fn ones_sum(parts: &[&[u8]]) -> u32 {
    let mut sum: u32 = 0;
    let mut carry: Option<u8> = None;
    for p in parts {
        for &b in p.iter() {
            match carry.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => carry = Some(b),
            }
        }
    }
    if let Some(hi) = carry {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    sum
}

/// Folds a one's-complement sum into the 16-bit checksum.
pub(crate) fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.push(0);
            p.push(IPPROTO_VRRP);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (s, d) => {
            p.extend_from_slice(&v6_octets(s));
            p.extend_from_slice(&v6_octets(d));
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, IPPROTO_VRRP]);
        }
    }
    p
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(v) => v.octets(),
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
    }
}

/// The checksum of `msg` (whose checksum field is zero) in `form`.
pub fn checksum(msg: &[u8], form: ChecksumForm, src: IpAddr, dst: IpAddr) -> u16 {
    match form {
        ChecksumForm::Plain => fold(ones_sum(&[msg])),
        ChecksumForm::PseudoHeader => {
            let ph = pseudo_header(src, dst, msg.len());
            fold(ones_sum(&[&ph, msg]))
        }
    }
}

impl Advert {
    /// The VRRP message (without IP header). `src`/`dst` are the IP
    /// addresses it will carry (they enter the v3 checksum).
    pub fn encode(&self, src: IpAddr, dst: IpAddr, v3_ipv4_pseudo: bool) -> Vec<u8> {
        let mut m = Vec::with_capacity(16 + 16 * self.addrs.len());
        m.push((self.version.number() << 4) | 1);
        m.push(self.vrid);
        m.push(self.priority);
        m.push(self.addrs.len().min(255) as u8);
        match self.version {
            Version::V2 => {
                m.push(self.auth.type_code());
                m.push((self.interval_cs / 100).clamp(1, 255) as u8);
            }
            Version::V3 => {
                m.extend_from_slice(&(self.interval_cs & 0x0fff).to_be_bytes());
            }
        }
        m.extend_from_slice(&[0, 0]);
        for a in self.addrs.iter().take(255) {
            match a {
                IpAddr::V4(v) => m.extend_from_slice(&v.octets()),
                IpAddr::V6(v) => m.extend_from_slice(&v.octets()),
            }
        }
        if self.version == Version::V2 {
            match &self.auth {
                Auth::Pass(p) => m.extend_from_slice(p),
                Auth::None => m.extend_from_slice(&[0; 8]),
            }
        }
        let form = match (self.version, src) {
            (Version::V2, _) => ChecksumForm::Plain,
            (Version::V3, IpAddr::V6(_)) => ChecksumForm::PseudoHeader,
            (Version::V3, IpAddr::V4(_)) if v3_ipv4_pseudo => ChecksumForm::PseudoHeader,
            (Version::V3, IpAddr::V4(_)) => ChecksumForm::Plain,
        };
        let c = checksum(&m, form, src, dst);
        m[6..8].copy_from_slice(&c.to_be_bytes());
        m
    }

    /// Decodes a VRRP message received from `src` to `dst`. `ipv6` tells
    /// the address family of the carrying packet. For IPv6 the kernel has
    /// verified the checksum already (IPV6_CHECKSUM) when `checksum_done`.
    pub fn decode(
        msg: &[u8],
        src: IpAddr,
        dst: IpAddr,
        checksum_done: bool,
    ) -> Result<(Advert, ChecksumForm), DropReason> {
        if msg.len() < 8 {
            return Err(DropReason::Truncated(msg.len()));
        }
        let version = msg[0] >> 4;
        let kind = msg[0] & 0x0f;
        let ipv6 = src.is_ipv6();
        let version = match version {
            2 if !ipv6 => Version::V2,
            3 => Version::V3,
            v => return Err(DropReason::BadVersion(v, if ipv6 { 3 } else { 2 })),
        };
        if kind != 1 {
            return Err(DropReason::BadType(kind));
        }
        let count = msg[3];
        if count == 0 {
            return Err(DropReason::NoAddresses);
        }
        let alen = if ipv6 { 16 } else { 4 };
        let expected = 8 + alen * count as usize + if version == Version::V2 { 8 } else { 0 };
        // Ethernet padding may follow the message: tolerated, as keepalived does.
        if msg.len() < expected {
            return Err(DropReason::BadLength {
                got: msg.len(),
                count,
                expected,
            });
        }
        let body = &msg[..expected];
        let form = if checksum_done && ipv6 {
            ChecksumForm::PseudoHeader
        } else {
            let plain = fold(ones_sum(&[body])) == 0;
            match version {
                Version::V2 if plain => ChecksumForm::Plain,
                Version::V2 => return Err(DropReason::BadChecksum),
                Version::V3 => {
                    let ph = pseudo_header(src, dst, body.len());
                    if fold(ones_sum(&[&ph, body])) == 0 {
                        ChecksumForm::PseudoHeader
                    } else if plain && !ipv6 {
                        ChecksumForm::Plain
                    } else {
                        return Err(DropReason::BadChecksum);
                    }
                }
            }
        };
        let (interval_cs, auth) = match version {
            Version::V2 => {
                let auth = match msg[4] {
                    1 => {
                        let mut p = [0u8; 8];
                        p.copy_from_slice(&body[expected - 8..expected]);
                        Auth::Pass(p)
                    }
                    _ => Auth::None,
                };
                (u16::from(msg[5]) * 100, auth)
            }
            Version::V3 => {
                let i = u16::from_be_bytes([msg[4], msg[5]]) & 0x0fff;
                if i == 0 {
                    return Err(DropReason::ZeroInterval);
                }
                (i, Auth::None)
            }
        };
        let mut addrs = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            let o = 8 + i * alen;
            if ipv6 {
                let mut a = [0u8; 16];
                a.copy_from_slice(&body[o..o + 16]);
                addrs.push(IpAddr::V6(Ipv6Addr::from(a)));
            } else {
                addrs.push(IpAddr::V4(Ipv4Addr::new(
                    body[o],
                    body[o + 1],
                    body[o + 2],
                    body[o + 3],
                )));
            }
        }
        Ok((
            Advert {
                version,
                vrid: msg[1],
                priority: msg[2],
                interval_cs,
                auth,
                addrs,
            },
            form,
        ))
    }
}

/// The fields of a received IPv4 header that VRRP looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Info {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
}

/// Splits a raw IPv4 datagram (as a raw socket delivers it) into header
/// facts and the VRRP message (trimmed to the IP total length).
pub fn split_ipv4(pkt: &[u8]) -> Result<(Ipv4Info, &[u8]), DropReason> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return Err(DropReason::Truncated(pkt.len()));
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || pkt.len() < ihl || total < ihl {
        return Err(DropReason::Truncated(pkt.len()));
    }
    if pkt[9] != IPPROTO_VRRP {
        return Err(DropReason::NotVrrp(pkt[9]));
    }
    let end = total.min(pkt.len());
    let info = Ipv4Info {
        ttl: pkt[8],
        src: Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]),
        dst: Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]),
    };
    Ok((info, &pkt[ihl..end]))
}

impl fmt::Display for Advert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VRRPv{} vrid {} prio {} intvl {}cs addrs {}",
            self.version.number(),
            self.vrid,
            self.priority,
            self.interval_cs,
            self.addrs.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v2_golden_bytes() {
        // VRID 51, prio 100, 1 s, PASS "secret", VIP 10.77.0.100: bytes
        // checked against the RFC 3768 layout and checksum by hand.
        let a = Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            auth: Auth::pass("secret"),
            addrs: vec![v4("10.77.0.100")],
        };
        let m = a.encode(v4("10.77.0.1"), IpAddr::V4(MCAST_V4), true);
        assert_eq!(
            m,
            vec![
                0x21, 51, 100, 1, 1, 1, 0x32, 0xcd, 10, 77, 0, 100, b's', b'e', b'c', b'r', b'e',
                b't', 0, 0
            ]
        );
        assert_eq!(fold(ones_sum(&[&m])), 0);
        let (d, form) = Advert::decode(&m, v4("10.77.0.1"), IpAddr::V4(MCAST_V4), false).unwrap();
        assert_eq!(d, a);
        assert_eq!(form, ChecksumForm::Plain);
    }

    #[test]
    fn v3_ipv4_both_checksum_forms_decode() {
        let a = Advert {
            version: Version::V3,
            vrid: 7,
            priority: 150,
            interval_cs: 10,
            auth: Auth::None,
            addrs: vec![v4("192.0.2.10"), v4("192.0.2.11")],
        };
        let src = v4("192.0.2.1");
        let dst = IpAddr::V4(MCAST_V4);
        let with = a.encode(src, dst, true);
        let without = a.encode(src, dst, false);
        assert_ne!(with[6..8], without[6..8]);
        assert_eq!(
            Advert::decode(&with, src, dst, false).unwrap(),
            (a.clone(), ChecksumForm::PseudoHeader)
        );
        assert_eq!(
            Advert::decode(&without, src, dst, false).unwrap(),
            (a.clone(), ChecksumForm::Plain)
        );
        // The pseudo-header form depends on the destination (unicast peer).
        assert_eq!(
            Advert::decode(&with, src, v4("192.0.2.2"), false),
            Err(DropReason::BadChecksum)
        );
    }

    #[test]
    fn v3_ipv6_roundtrip_any_first_address() {
        let src: IpAddr = "fe80::1".parse().unwrap();
        let dst = IpAddr::V6(MCAST_V6);
        let a = Advert {
            version: Version::V3,
            vrid: 9,
            priority: 200,
            interval_cs: 100,
            auth: Auth::None,
            addrs: vec!["fe80::9".parse().unwrap(), "2001:db8::9".parse().unwrap()],
        };
        let m = a.encode(src, dst, true);
        assert_eq!(m.len(), 8 + 32);
        assert_eq!(Advert::decode(&m, src, dst, false).unwrap().0, a);
        let mut bad = a.clone();
        bad.addrs.reverse();
        let m = bad.encode(src, dst, true);
        // RFC 9568 wants a link-local first address; keepalived does not
        // send one, and interop wins: accepted.
        assert_eq!(Advert::decode(&m, src, dst, false).unwrap().0, bad);
    }

    #[test]
    fn drop_rules() {
        let src = v4("10.0.0.1");
        let dst = IpAddr::V4(MCAST_V4);
        let a = Advert {
            version: Version::V2,
            vrid: 1,
            priority: 100,
            interval_cs: 100,
            auth: Auth::None,
            addrs: vec![v4("10.0.0.100")],
        };
        let good = a.encode(src, dst, true);
        let mut m = good.clone();
        m[7] ^= 1;
        assert_eq!(
            Advert::decode(&m, src, dst, false),
            Err(DropReason::BadChecksum)
        );
        let mut m = good.clone();
        m[0] = 0x11;
        assert_eq!(
            Advert::decode(&m, src, dst, false),
            Err(DropReason::BadVersion(1, 2))
        );
        let mut m = good.clone();
        m[0] = 0x22;
        assert_eq!(
            Advert::decode(&m, src, dst, false),
            Err(DropReason::BadType(2))
        );
        assert!(matches!(
            Advert::decode(&good[..12], src, dst, false),
            Err(DropReason::BadLength { .. })
        ));
        let mut m = good.clone();
        m[3] = 0;
        assert_eq!(
            Advert::decode(&m, src, dst, false),
            Err(DropReason::NoAddresses)
        );
        // Ethernet padding after the message is tolerated.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0; 30]);
        assert!(Advert::decode(&padded, src, dst, false).is_ok());
        // VRRPv2 over IPv6 does not exist.
        assert!(matches!(
            Advert::decode(&good, "fe80::1".parse().unwrap(), dst, false),
            Err(DropReason::BadVersion(2, 3))
        ));
    }

    #[test]
    fn ipv4_split() {
        let mut pkt = vec![
            0x45, 0xc0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        pkt.extend_from_slice(&[0u8; 20]);
        pkt.extend_from_slice(&[0u8; 6]); // padding beyond total length
        let (info, body) = split_ipv4(&pkt).unwrap();
        assert_eq!(info.ttl, 255);
        assert_eq!(info.src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(body.len(), 20);
        pkt[9] = 6;
        assert_eq!(split_ipv4(&pkt), Err(DropReason::NotVrrp(6)));
    }
}
