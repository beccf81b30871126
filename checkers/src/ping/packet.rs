//! ICMP echo request/reply bytes (RFC 792 / RFC 4443). Pure.

/// A parsed echo reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoReply {
    pub id: u16,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// The Internet checksum over `b`.
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request (type 8, or 128 for ICMPv6). The kernel fills the
/// checksum for ICMPv6 on ping sockets; IPv4 carries it computed here.
pub fn echo_request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Parses an echo reply (type 0, or 129 for ICMPv6) as read from a ping
/// socket (no IP header). `None` for anything else.
pub fn parse_echo_reply(v6: bool, b: &[u8]) -> Option<EchoReply> {
    if b.len() < 8 || b[0] != if v6 { 129 } else { 0 } || b[1] != 0 {
        return None;
    }
    Some(EchoReply {
        id: u16::from_be_bytes([b[4], b[5]]),
        seq: u16::from_be_bytes([b[6], b[7]]),
        payload: b[8..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply() {
        let r = echo_request(false, 0x1234, 7, b"ab");
        assert_eq!(&r[..2], &[8, 0]);
        assert_eq!(checksum(&r), 0, "checksum verifies");
        assert_eq!(&r[4..], &[0x12, 0x34, 0, 7, b'a', b'b']);
        let mut reply = r.clone();
        reply[0] = 0;
        assert_eq!(
            parse_echo_reply(false, &reply),
            Some(EchoReply {
                id: 0x1234,
                seq: 7,
                payload: b"ab".to_vec()
            })
        );
        assert_eq!(parse_echo_reply(false, &r), None);
        assert_eq!(parse_echo_reply(false, &reply[..7]), None);
        let r6 = echo_request(true, 1, 2, b"");
        assert_eq!(r6, vec![128, 0, 0, 0, 0, 1, 0, 2]);
        let mut rep6 = r6;
        rep6[0] = 129;
        assert_eq!(parse_echo_reply(true, &rep6).map(|e| e.seq), Some(2));
    }
}
