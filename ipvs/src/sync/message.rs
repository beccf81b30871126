//! The kernel's IPVS sync protocol, version 1 (`net/netfilter/ipvs/
//! ip_vs_sync.c`), as a backup's sync daemon reads it.
//!
//! A message is an 8-byte header (reserved 0, sync id, total size,
//! connection count, version 1, spare 0) followed by connection entries:
//! type (bit 0 = IPv6), protocol, version/size (version in the top 4
//! bits, 0), flags, state, client/virtual/destination ports, firewall
//! mark, timeout in seconds (0 = the backup's own timeout for the state),
//! then client, virtual and destination addresses (4 or 16 bytes each).
//! Everything is big-endian; entries are 36 (IPv4) or 72 (IPv6) bytes, so
//! they stay 32-bit aligned without padding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `IP_VS_CONN_F_*` bits carried in a sync entry.
pub mod conn_flags {
    pub const MASQ: u32 = 0x0000;
    pub const LOCALNODE: u32 = 0x0001;
    pub const TUNNEL: u32 = 0x0002;
    pub const DROUTE: u32 = 0x0003;
    pub const FWD_MASK: u32 = 0x0007;
    pub const INACTIVE: u32 = 0x0100;
    pub const TEMPLATE: u32 = 0x1000;
}

pub const HEADER_LEN: usize = 8;
pub const V4_ENTRY_LEN: usize = 36;
pub const V6_ENTRY_LEN: usize = 72;
const PROTO_VERSION: u8 = 1;
const TYPE_INET6: u8 = 1;

/// Client, virtual and destination address of one entry, of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAddrs {
    V4 {
        client: Ipv4Addr,
        virt: Ipv4Addr,
        dest: Ipv4Addr,
    },
    V6 {
        client: Ipv6Addr,
        virt: Ipv6Addr,
        dest: Ipv6Addr,
    },
}

impl SyncAddrs {
    /// None when the three addresses are not of one family.
    pub fn new(client: IpAddr, virt: IpAddr, dest: IpAddr) -> Option<Self> {
        match (client, virt, dest) {
            (IpAddr::V4(client), IpAddr::V4(virt), IpAddr::V4(dest)) => {
                Some(SyncAddrs::V4 { client, virt, dest })
            }
            (IpAddr::V6(client), IpAddr::V6(virt), IpAddr::V6(dest)) => {
                Some(SyncAddrs::V6 { client, virt, dest })
            }
            _ => None,
        }
    }

    fn entry_len(&self) -> usize {
        match self {
            SyncAddrs::V4 { .. } => V4_ENTRY_LEN,
            SyncAddrs::V6 { .. } => V6_ENTRY_LEN,
        }
    }
}

/// One connection (or persistence template) as the sync protocol carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConn {
    pub protocol: u8,
    /// `conn_flags` bits.
    pub flags: u32,
    pub state: u16,
    pub addrs: SyncAddrs,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub fwmark: u32,
    /// Seconds; 0 lets the backup use its timeout for the state.
    pub timeout: u32,
}

impl SyncConn {
    fn encode(&self, out: &mut Vec<u8>) {
        let len = self.addrs.entry_len();
        out.push(match self.addrs {
            SyncAddrs::V4 { .. } => 0,
            SyncAddrs::V6 { .. } => TYPE_INET6,
        });
        out.push(self.protocol);
        // Version 0 in the top 4 bits, the entry's size below.
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&self.state.to_be_bytes());
        out.extend_from_slice(&self.cport.to_be_bytes());
        out.extend_from_slice(&self.vport.to_be_bytes());
        out.extend_from_slice(&self.dport.to_be_bytes());
        out.extend_from_slice(&self.fwmark.to_be_bytes());
        out.extend_from_slice(&self.timeout.to_be_bytes());
        match self.addrs {
            SyncAddrs::V4 { client, virt, dest } => {
                for a in [client, virt, dest] {
                    out.extend_from_slice(&a.octets());
                }
            }
            SyncAddrs::V6 { client, virt, dest } => {
                for a in [client, virt, dest] {
                    out.extend_from_slice(&a.octets());
                }
            }
        }
    }
}

/// Packs entries into messages of at most `maxlen` bytes (the UDP payload
/// a backup reads: its interface MTU less the IP and UDP headers) and at
/// most 255 entries each.
#[derive(Debug, Clone, Copy)]
pub struct SyncEncoder {
    sync_id: u8,
    maxlen: usize,
}

impl SyncEncoder {
    /// `maxlen` is raised to fit one IPv6 entry at least.
    pub fn new(sync_id: u8, maxlen: usize) -> Self {
        SyncEncoder {
            sync_id,
            maxlen: maxlen.clamp(HEADER_LEN + V6_ENTRY_LEN, 65_507),
        }
    }

    pub fn encode(&self, conns: &[SyncConn]) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        let mut msg: Vec<u8> = Vec::new();
        let mut count = 0u8;
        for c in conns {
            let len = c.addrs.entry_len();
            if !msg.is_empty() && (msg.len() + len > self.maxlen || count == u8::MAX) {
                messages.push(self.seal(std::mem::take(&mut msg), count));
                count = 0;
            }
            if msg.is_empty() {
                msg.reserve(self.maxlen);
                msg.extend_from_slice(&[0; HEADER_LEN]);
            }
            c.encode(&mut msg);
            count += 1;
        }
        if !msg.is_empty() {
            messages.push(self.seal(msg, count));
        }
        messages
    }

    fn seal(&self, mut msg: Vec<u8>, count: u8) -> Vec<u8> {
        let size = msg.len() as u16;
        msg[0] = 0;
        msg[1] = self.sync_id;
        msg[2..4].copy_from_slice(&size.to_be_bytes());
        msg[4] = count;
        msg[5] = PROTO_VERSION;
        msg[6] = 0;
        msg[7] = 0;
        msg
    }
}

/// Why a sync message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncDecodeError {
    #[error("sync message shorter than its header ({0} bytes)")]
    Short(usize),
    #[error("sync message size field {field} but {actual} bytes received")]
    Size { field: usize, actual: usize },
    #[error("not a version 1 sync message (reserved {reserved}, version {version})")]
    Version { reserved: u8, version: u8 },
    #[error("sync entry {index}: {why}")]
    Entry { index: usize, why: &'static str },
}

/// Decodes one message into its sync id and entries (entry options, which
/// lvsd never sends, are skipped).
pub fn decode(msg: &[u8]) -> Result<(u8, Vec<SyncConn>), SyncDecodeError> {
    if msg.len() < HEADER_LEN {
        return Err(SyncDecodeError::Short(msg.len()));
    }
    let field = usize::from(u16::from_be_bytes([msg[2], msg[3]]));
    if field != msg.len() {
        return Err(SyncDecodeError::Size {
            field,
            actual: msg.len(),
        });
    }
    if msg[0] != 0 || msg[5] != PROTO_VERSION || msg[6] != 0 || msg[7] != 0 {
        return Err(SyncDecodeError::Version {
            reserved: msg[0],
            version: msg[5],
        });
    }
    let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let be32 = |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut conns = Vec::with_capacity(usize::from(msg[4]));
    let mut at = HEADER_LEN;
    for index in 0..usize::from(msg[4]) {
        let bad = |why| SyncDecodeError::Entry { index, why };
        let e = msg
            .get(at..)
            .filter(|e| e.len() >= V4_ENTRY_LEN)
            .ok_or(bad("truncated"))?;
        let ver_size = be16(e, 2);
        if ver_size >> 12 != 0 {
            return Err(bad("unknown entry version"));
        }
        let size = usize::from(ver_size & 0x0fff);
        let v6 = e[0] & TYPE_INET6 != 0;
        let min = if v6 { V6_ENTRY_LEN } else { V4_ENTRY_LEN };
        if size < min || size > e.len() {
            return Err(bad("bad entry size"));
        }
        let addrs = if v6 {
            let a = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&e[o..o + 16]);
                Ipv6Addr::from(b)
            };
            SyncAddrs::V6 {
                client: a(24),
                virt: a(40),
                dest: a(56),
            }
        } else {
            let a = |o: usize| Ipv4Addr::from(be32(e, o));
            SyncAddrs::V4 {
                client: a(24),
                virt: a(28),
                dest: a(32),
            }
        };
        conns.push(SyncConn {
            protocol: e[1],
            flags: be32(e, 4),
            state: be16(e, 8),
            cport: be16(e, 10),
            vport: be16(e, 12),
            dport: be16(e, 14),
            fwmark: be32(e, 16),
            timeout: be32(e, 20),
            addrs,
        });
        at += (size + 3) & !3;
    }
    Ok((msg[1], conns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(cport: u16) -> SyncConn {
        SyncConn {
            protocol: 6,
            flags: conn_flags::DROUTE,
            state: 1,
            addrs: SyncAddrs::V4 {
                client: Ipv4Addr::new(10, 0, 0, 2),
                virt: Ipv4Addr::new(10, 0, 0, 1),
                dest: Ipv4Addr::new(10, 20, 0, 2),
            },
            cport,
            vport: 80,
            dport: 80,
            fwmark: 0,
            timeout: 0,
        }
    }

    #[test]
    fn golden_ipv4_message() {
        let m = SyncEncoder::new(51, 1472).encode(&[v4(0xd2f0)]);
        assert_eq!(m.len(), 1);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0, 51, 0, 44, 1, 1, 0, 0,             // header: size 44, 1 conn, v1
            0, 6, 0, 36,                           // IPv4, TCP, version 0 size 36
            0, 0, 0, 3,                            // flags: DROUTE
            0, 1, 0xd2, 0xf0, 0, 80, 0, 80,        // ESTABLISHED, ports
            0, 0, 0, 0, 0, 0, 0, 0,                // fwmark, timeout
            10, 0, 0, 2, 10, 0, 0, 1, 10, 20, 0, 2,
        ];
        assert_eq!(m[0], want);
        assert_eq!(decode(&m[0]).unwrap(), (51, vec![v4(0xd2f0)]));
    }

    #[test]
    fn splits_at_maxlen_and_at_255_entries() {
        let conns: Vec<SyncConn> = (0..600).map(v4).collect();
        let msgs = SyncEncoder::new(1, 1472).encode(&conns);
        // (1472 - 8) / 36 = 40 entries per message.
        assert_eq!(msgs.len(), 15);
        assert!(msgs.iter().all(|m| m.len() <= 1472));
        let back: Vec<SyncConn> = msgs.iter().flat_map(|m| decode(m).unwrap().1).collect();
        assert_eq!(back, conns);
        let big = SyncEncoder::new(1, 65_000).encode(&conns);
        assert_eq!(
            big.iter().map(|m| m[4] as usize).collect::<Vec<_>>(),
            vec![255, 255, 90]
        );
    }

    #[test]
    fn ipv6_round_trip_and_bad_messages() {
        let c = SyncConn {
            addrs: SyncAddrs::new(
                "2001:db8::2".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
                "2001:db8::1:2".parse().unwrap(),
            )
            .unwrap(),
            flags: conn_flags::TEMPLATE | conn_flags::MASQ,
            timeout: 300,
            ..v4(0)
        };
        let m = SyncEncoder::new(9, 0).encode(&[c, v4(7)]);
        // maxlen 0 is raised to fit one IPv6 entry, not both entries.
        assert_eq!(m.len(), 2);
        let back: Vec<SyncConn> = m.iter().flat_map(|x| decode(x).unwrap().1).collect();
        assert_eq!(back, vec![c, v4(7)]);
        assert_eq!(decode(&[0; 4]), Err(SyncDecodeError::Short(4)));
        let mut bad = m[0].clone();
        bad[3] ^= 1;
        assert!(matches!(decode(&bad), Err(SyncDecodeError::Size { .. })));
        let mut bad = m[0].clone();
        bad[4] += 1;
        assert!(matches!(
            decode(&bad),
            Err(SyncDecodeError::Entry { index: 1, .. })
        ));
        assert!(SyncAddrs::new(
            "10.0.0.1".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            "10.0.0.2".parse().unwrap()
        )
        .is_none());
    }
}
