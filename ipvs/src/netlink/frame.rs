//! Whole netlink messages: IPVS requests with their netlink and genetlink
//! headers, and the kernel's replies (data, ACK/NACK, end of dump) split out
//! of a receive buffer.

use netlink_packet_core::{
    DecodeError, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_generic::GenlMessage;

use super::message::IpvsMessage;

/// How a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A change: the kernel acknowledges it (NLM_F_ACK).
    Change,
    /// A single-object query answered with one message.
    Get,
    /// A dump: many messages, then NLMSG_DONE.
    Dump,
}

/// Encodes one request.
pub fn request(family_id: u16, seq: u32, kind: RequestKind, msg: IpvsMessage) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut header = NetlinkHeader::default();
    header.flags = match kind {
        RequestKind::Change => NLM_F_REQUEST | NLM_F_ACK,
        RequestKind::Get => NLM_F_REQUEST,
        RequestKind::Dump => NLM_F_REQUEST | NLM_F_DUMP,
    };
    header.sequence_number = seq;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(genl));
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// One message from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A data message (a dump entry or a GET answer).
    Data { seq: u32, cmd: u8, payload: Vec<u8> },
    /// An ACK (errno 0) or NACK (positive errno) for request `seq`.
    Ack { seq: u32, errno: i32 },
    /// End of a dump.
    Done { seq: u32 },
}

impl Reply {
    pub fn seq(&self) -> u32 {
        match self {
            Reply::Data { seq, .. } | Reply::Ack { seq, .. } | Reply::Done { seq } => *seq,
        }
    }
}

/// Splits a receive buffer into replies.
pub fn parse_replies(buf: &[u8]) -> Result<Vec<Reply>, DecodeError> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
        if len < 16 || off + len > buf.len() {
            return Err(DecodeError::from(format!(
                "netlink message of length {len} at offset {off} overruns the {}-byte buffer",
                buf.len()
            )));
        }
        let chunk = &buf[off..off + len];
        let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(chunk)?;
        let seq = msg.header.sequence_number;
        match msg.payload {
            NetlinkPayload::InnerMessage(g) => {
                let (h, p) = g.into_parts();
                out.push(Reply::Data {
                    seq,
                    cmd: h.cmd,
                    payload: p.payload,
                });
            }
            NetlinkPayload::Error(e) => out.push(Reply::Ack {
                seq,
                errno: e.code.map(|c| -c.get()).unwrap_or(0),
            }),
            NetlinkPayload::Done(_) => out.push(Reply::Done { seq }),
            _ => {}
        }
        off += (len + 3) & !3;
    }
    Ok(out)
}
