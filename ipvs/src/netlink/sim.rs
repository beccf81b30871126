//! `SimKernel`: a `Transport` that behaves like the kernel's IPVS family
//! over netlink, backed by `MemoryIpvs`. It decodes requests with the same
//! codec, answers dumps (services, destinations) without NLA_F_NESTED and
//! with the HASHED flag set, as the kernel does, and acknowledges changes
//! with the kernel's errno. Used to test the client end to end here, where
//! the kernel has no IPVS.

use std::collections::VecDeque;
use std::io;

use netlink_packet_core::{
    ErrorMessage, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_MULTIPART,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;

use super::attr::Attr;
use super::client::Transport;
use super::consts::{cmd, dest, info, top};
use super::convert::{dest_attrs, parse_dest, parse_service, service_attrs, top_nest};
use super::message::IpvsMessage;
use crate::fake::FakeIpvs as MemoryIpvs;
use crate::model::{svc_flags, DestKey};
use crate::ops::{IpvsBackend, Operation};

pub const SIM_FAMILY_ID: u16 = 0x24;

#[derive(Default)]
pub struct SimKernel {
    pub ipvs: MemoryIpvs,
    /// When false, family resolution fails as on a kernel without IPVS.
    pub absent: bool,
    /// Datagrams received (requests sent by the client), for tests.
    pub datagrams: usize,
    out: VecDeque<Vec<u8>>,
}

fn emit<T: netlink_packet_core::NetlinkSerializable + std::fmt::Debug>(
    seq: u32,
    flags: u16,
    payload: NetlinkPayload<T>,
) -> Vec<u8> {
    let mut h = NetlinkHeader::default();
    h.sequence_number = seq;
    h.flags = flags;
    let mut m = NetlinkMessage::new(h, payload);
    m.finalize();
    let mut b = vec![0u8; m.buffer_len()];
    m.serialize(&mut b);
    b
}

fn ack(seq: u32, errno: i32, req_header: &[u8]) -> Vec<u8> {
    let mut e = ErrorMessage::default();
    e.code = std::num::NonZeroI32::new(-errno);
    e.header = req_header.to_vec();
    emit::<GenlMessage<IpvsMessage>>(seq, 0, NetlinkPayload::Error(e))
}

fn done(seq: u32) -> Vec<u8> {
    let mut b = vec![0u8; 20];
    b[0..4].copy_from_slice(&20u32.to_ne_bytes());
    b[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
    b[6..8].copy_from_slice(&NLM_F_MULTIPART.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b
}

fn data(seq: u32, multi: bool, cmd: u8, attrs: Vec<Attr>) -> Vec<u8> {
    let mut g = GenlMessage::from_payload(IpvsMessage::new(cmd, attrs));
    g.set_resolved_family_id(SIM_FAMILY_ID);
    emit(
        seq,
        if multi { NLM_F_MULTIPART } else { 0 },
        NetlinkPayload::from(g),
    )
}

/// The kernel sends nests without NLA_F_NESTED: re-emit a nest as raw bytes.
fn kernel_nest(a: Attr) -> Attr {
    match a {
        Attr::Nested(k, v) => {
            let inner = v.as_slice();
            let mut b = vec![0u8; netlink_packet_core::Emitable::buffer_len(&inner)];
            netlink_packet_core::Emitable::emit(&inner, &mut b);
            Attr::Bytes(k, b)
        }
        other => other,
    }
}

impl SimKernel {
    fn handle(&mut self, req: &[u8]) {
        let seq = u32::from_ne_bytes([req[8], req[9], req[10], req[11]]);
        let flags = u16::from_ne_bytes([req[6], req[7]]);
        let msg_type = u16::from_ne_bytes([req[4], req[5]]);
        let header = req[..16].to_vec();
        if msg_type == 0x10 {
            // nlctrl GET_FAMILY
            if self.absent {
                self.out.push_back(ack(seq, libc::ENOENT, &header));
                return;
            }
            let reply = GenlCtrl {
                cmd: GenlCtrlCmd::NewFamily,
                nlas: vec![
                    GenlCtrlAttrs::FamilyId(SIM_FAMILY_ID),
                    GenlCtrlAttrs::FamilyName("IPVS".into()),
                ],
            };
            self.out.push_back(emit(
                seq,
                0,
                NetlinkPayload::from(GenlMessage::from_payload(reply)),
            ));
            self.out.push_back(ack(seq, 0, &header));
            return;
        }
        let Ok(m) = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(req) else {
            self.out.push_back(ack(seq, libc::EINVAL, &header));
            return;
        };
        let NetlinkPayload::InnerMessage(g) = m.payload else {
            return;
        };
        let (gh, body) = g.into_parts();
        let payload = body.payload;
        let is_dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        match gh.cmd {
            cmd::GET_INFO => {
                self.out.push_back(data(
                    seq,
                    false,
                    cmd::SET_INFO,
                    vec![
                        Attr::U32(info::VERSION, 0x010201),
                        Attr::U32(info::CONN_TAB_SIZE, 4096),
                    ],
                ));
            }
            cmd::GET_SERVICE if is_dump => {
                for e in self.ipvs.table().services.clone() {
                    let mut s = e.service.clone();
                    s.flags |= svc_flags::HASHED;
                    let nest = kernel_nest(service_attrs(&s));
                    // The kernel encodes flags with the HASHED bit and a
                    // mask of ~0 only in requests; keep the bytes as-is.
                    self.out
                        .push_back(data(seq, true, cmd::NEW_SERVICE, vec![nest]));
                }
                self.out.push_back(done(seq));
            }
            cmd::GET_DEST if is_dump => {
                if let Ok(Some(nest)) = top_nest(&payload, top::SERVICE) {
                    if let Ok(ls) = parse_service(&nest) {
                        if let Some(e) = self.ipvs.table().find(&ls.service.key).cloned() {
                            for d in &e.destinations {
                                let mut a = kernel_nest(dest_attrs(e.service.key.af(), d));
                                if let Attr::Bytes(k, mut b) = a {
                                    // Counters the kernel adds to replies.
                                    let extra = vec![
                                        Attr::U32(dest::ACTIVE_CONNS, 0),
                                        Attr::U32(dest::INACT_CONNS, 0),
                                        Attr::U32(dest::PERSIST_CONNS, 0),
                                    ];
                                    let s = extra.as_slice();
                                    let mut eb =
                                        vec![0u8; netlink_packet_core::Emitable::buffer_len(&s)];
                                    netlink_packet_core::Emitable::emit(&s, &mut eb);
                                    b.extend(eb);
                                    a = Attr::Bytes(k, b);
                                }
                                self.out.push_back(data(seq, true, cmd::NEW_DEST, vec![a]));
                            }
                        }
                    }
                }
                self.out.push_back(done(seq));
            }
            c => {
                let op = decode_op(c, &payload);
                let errno = match op {
                    Some(op) => match self.ipvs.apply(&[op]).pop() {
                        Some(Err(e)) => e.errno,
                        _ => 0,
                    },
                    None if c == cmd::FLUSH => {
                        let keys: Vec<_> = self
                            .ipvs
                            .table()
                            .services
                            .iter()
                            .map(|e| e.service.key)
                            .collect();
                        let ops: Vec<Operation> =
                            keys.into_iter().map(Operation::DelService).collect();
                        self.ipvs.apply(&ops);
                        0
                    }
                    None => libc::EOPNOTSUPP,
                };
                if flags & NLM_F_ACK != 0 || errno != 0 {
                    self.out.push_back(ack(seq, errno, &header));
                }
            }
        }
    }
}

/// The table operation a change request stands for.
pub fn decode_op(c: u8, payload: &[u8]) -> Option<Operation> {
    let svc_nest = top_nest(payload, top::SERVICE).ok()??;
    let s = parse_service(&svc_nest).ok()?.service;
    let dest_nest = top_nest(payload, top::DEST).ok()?;
    let d = dest_nest
        .and_then(|n| parse_dest(&n, s.key.af()).ok())
        .map(|l| l.dest);
    Some(match (c, d) {
        (cmd::NEW_SERVICE, _) => Operation::AddService(s),
        (cmd::SET_SERVICE, _) => Operation::EditService(s),
        (cmd::DEL_SERVICE, _) => Operation::DelService(s.key),
        (cmd::NEW_DEST, Some(d)) => Operation::AddDest(s.key, d),
        (cmd::SET_DEST, Some(d)) => Operation::EditDest(s.key, d),
        (cmd::DEL_DEST, Some(d)) => Operation::DelDest(
            s.key,
            DestKey {
                addr: d.addr,
                port: d.port,
            },
        ),
        _ => return None,
    })
}

impl Transport for SimKernel {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        self.datagrams += 1;
        let mut off = 0;
        while off + 16 <= buf.len() {
            let len =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            if len < 16 || off + len > buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "bad netlink framing",
                ));
            }
            let req = buf[off..off + len].to_vec();
            self.handle(&req);
            off += (len + 3) & !3;
        }
        Ok(())
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        // Deliver several messages per datagram, as the kernel does.
        let mut out = Vec::new();
        while let Some(m) = self.out.pop_front() {
            out.extend(m);
            if out.len() > 16 * 1024 {
                break;
            }
        }
        if out.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "no reply pending",
            ));
        }
        Ok(out)
    }
}
