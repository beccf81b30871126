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

/// One message from the kernel, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRef<'a> {
    Data {
        seq: u32,
        cmd: u8,
        payload: &'a [u8],
    },
    Ack {
        seq: u32,
        errno: i32,
    },
    Done {
        seq: u32,
    },
}

impl ReplyRef<'_> {
    pub fn seq(&self) -> u32 {
        match self {
            ReplyRef::Data { seq, .. } | ReplyRef::Ack { seq, .. } | ReplyRef::Done { seq } => *seq,
        }
    }

    pub fn to_owned(self) -> Reply {
        match self {
            ReplyRef::Data { seq, cmd, payload } => Reply::Data {
                seq,
                cmd,
                payload: payload.to_vec(),
            },
            ReplyRef::Ack { seq, errno } => Reply::Ack { seq, errno },
            ReplyRef::Done { seq } => Reply::Done { seq },
        }
    }
}

const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes the message at the start of `chunk` (exactly one message).
fn reply_at(chunk: &[u8]) -> Result<Option<ReplyRef<'_>>, DecodeError> {
    let msg_type = u16::from_ne_bytes([chunk[4], chunk[5]]);
    let seq = ne_u32(chunk, 8);
    match msg_type {
        NLMSG_NOOP | NLMSG_OVERRUN => Ok(None),
        NLMSG_ERROR => {
            if chunk.len() < NLMSG_HDRLEN + 4 {
                return Err(DecodeError::from(format!(
                    "netlink error message of {} bytes has no error code",
                    chunk.len()
                )));
            }
            let code = ne_u32(chunk, NLMSG_HDRLEN) as i32;
            Ok(Some(ReplyRef::Ack {
                seq,
                errno: code.wrapping_neg(),
            }))
        }
        NLMSG_DONE => Ok(Some(ReplyRef::Done { seq })),
        _ => {
            if chunk.len() < NLMSG_HDRLEN + 4 {
                return Err(DecodeError::from(format!(
                    "generic netlink message of {} bytes has no genl header",
                    chunk.len()
                )));
            }
            let payload = &chunk[NLMSG_HDRLEN + 4..];
            // Validate the attribute framing now; decode values later.
            super::attr::each_attr(payload, |_| Ok(()))?;
            Ok(Some(ReplyRef::Data {
                seq,
                cmd: chunk[NLMSG_HDRLEN],
                payload,
            }))
        }
    }
}

/// The replies in a receive buffer, borrowed, in order. A malformed
/// message is an error and ends the iteration.
pub fn replies(buf: &[u8]) -> Replies<'_> {
    Replies { buf, off: 0 }
}

pub struct Replies<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Replies<'a> {
    type Item = Result<ReplyRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Each step consumes at least one 16-byte header, so the loop over
        // control messages ends with the buffer.
        while self.off + NLMSG_HDRLEN <= self.buf.len() {
            let off = self.off;
            let len = ne_u32(self.buf, off) as usize;
            if len < NLMSG_HDRLEN || off + len > self.buf.len() {
                self.off = self.buf.len();
                return Some(Err(DecodeError::from(format!(
                    "netlink message of length {len} at offset {off} overruns the {}-byte buffer",
                    self.buf.len()
                ))));
            }
            self.off = off + ((len + 3) & !3);
            match reply_at(&self.buf[off..off + len]) {
                Ok(Some(r)) => return Some(Ok(r)),
                Ok(None) => continue,
                Err(e) => {
                    self.off = self.buf.len();
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Splits a receive buffer into replies (owned; see `replies`).
pub fn parse_replies(buf: &[u8]) -> Result<Vec<Reply>, DecodeError> {
    replies(buf).map(|r| r.map(ReplyRef::to_owned)).collect()
}
