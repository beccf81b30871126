//! Direct encoding of IPVS change requests into one reusable buffer,
//! without building an attribute tree, so a batch of thousands of
//! operations costs no allocation per message. Service requests and
//! deletions are the same bytes as `frame::request(.., op_message(op))`
//! (libipvs's attribute order, NLA_F_NESTED on nests). A destination add
//! or edit leaves out what the kernel does not read there (the service's
//! scheduler, flags, timeout and netmask; tunnel settings of a destination
//! that does not tunnel): about a third fewer attributes for the kernel to
//! validate, and 6 % less time in the kernel for a 42,000-entry apply in
//! the lab. `tests` below pin both: byte equality, and for destination
//! changes the same operation decoded back.

use std::net::IpAddr;

use netlink_packet_core::{NLA_F_NESTED, NLM_F_DUMP, NLM_F_REQUEST};

use super::consts::{cmd, dest, svc, top, VERSION};
use crate::model::{svc_flags, Destination, ForwardMethod, Netmask, Service, ServiceKey};
use crate::ops::Operation;

/// Writes netlink attributes and messages at the end of a byte buffer.
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Writer { buf }
    }

    fn pad(&mut self) {
        let rem = self.buf.len() % 4;
        if rem != 0 {
            self.buf.extend_from_slice(&[0u8; 4][..4 - rem]);
        }
    }

    /// One attribute: header, value, padding to 4 bytes.
    pub fn attr(&mut self, kind: u16, value: &[u8]) {
        let len = (4 + value.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
    }

    pub fn u8(&mut self, kind: u16, v: u8) {
        self.attr(kind, &[v]);
    }

    pub fn u16(&mut self, kind: u16, v: u16) {
        self.attr(kind, &v.to_ne_bytes());
    }

    pub fn u16_be(&mut self, kind: u16, v: u16) {
        self.attr(kind, &v.to_be_bytes());
    }

    pub fn u32(&mut self, kind: u16, v: u32) {
        self.attr(kind, &v.to_ne_bytes());
    }

    /// A NUL-terminated string.
    pub fn str(&mut self, kind: u16, s: &str) {
        let len = (4 + s.len() + 1) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    /// Opens a nest (sent with NLA_F_NESTED); returns its offset for `end`.
    pub fn begin(&mut self, kind: u16) -> usize {
        let off = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        off
    }

    /// Closes the nest opened at `off` (its length covers the children).
    pub fn end(&mut self, off: usize) {
        let len = (self.buf.len() - off) as u16;
        self.buf[off..off + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// Opens a generic netlink message (nlmsghdr + genlmsghdr).
    pub fn begin_message(&mut self, family_id: u16, flags: u16, seq: u32, command: u8) -> usize {
        let off = self.buf.len();
        self.buf.extend_from_slice(&[0u8; 4]);
        self.buf.extend_from_slice(&family_id.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&[command, VERSION, 0, 0]);
        off
    }

    /// Closes the message opened at `off` (sets nlmsg_len).
    pub fn end_message(&mut self, off: usize) {
        let len = (self.buf.len() - off) as u32;
        self.buf[off..off + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

fn addr16(a: &IpAddr) -> [u8; 16] {
    crate::model::addr_bytes(a)
}

/// The service nest as `convert::service_attrs` builds it.
#[allow(clippy::too_many_arguments)]
fn service_nest(
    w: &mut Writer<'_>,
    key: &ServiceKey,
    scheduler: &str,
    pe_name: Option<&str>,
    flags: u32,
    timeout: u32,
    netmask: Netmask,
) {
    let n = w.begin(top::SERVICE);
    identity_attrs(w, key);
    w.str(svc::SCHED_NAME, scheduler);
    if let Some(pe) = pe_name {
        w.str(svc::PE_NAME, pe);
    }
    let mut f = [0u8; 8];
    f[..4].copy_from_slice(&(flags & !svc_flags::HASHED).to_ne_bytes());
    f[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    w.attr(svc::FLAGS, &f);
    w.u32(svc::TIMEOUT, timeout);
    match netmask {
        Netmask::V4(m) => w.attr(svc::NETMASK, &m.to_be_bytes()),
        Netmask::V6Prefix(p) => w.u32(svc::NETMASK, p as u32),
    }
    w.end(n);
}

/// The nest of a key-only service (`Service::new(key)`'s defaults).
fn key_nest(w: &mut Writer<'_>, key: &ServiceKey) {
    service_nest(w, key, "wlc", None, 0, 0, Netmask::full(key.af()));
}

/// The destination nest as `convert::dest_attrs` builds it, with the
/// tunnel settings only when `tunnel` (a destination add or edit leaves
/// them out unless it tunnels: the kernel takes absent ones as 0 and uses
/// them only for tunnelling).
fn dest_nest(w: &mut Writer<'_>, d: &Destination, tunnel: bool) {
    let n = w.begin(top::DEST);
    w.u16(
        dest::ADDR_FAMILY,
        crate::model::AddressFamily::of(&d.addr).to_raw(),
    );
    w.attr(dest::ADDR, &addr16(&d.addr));
    w.u16_be(dest::PORT, d.port);
    w.u32(dest::FWD_METHOD, d.forward.to_raw());
    w.u32(dest::WEIGHT, d.weight);
    if tunnel {
        w.u8(dest::TUN_TYPE, d.tunnel.kind.to_raw());
        w.u16_be(dest::TUN_PORT, d.tunnel.port);
        w.u16(dest::TUN_FLAGS, d.tunnel.csum.to_raw());
    }
    w.u32(dest::U_THRESH, d.u_threshold);
    w.u32(dest::L_THRESH, d.l_threshold);
    w.end(n);
}

/// The service nest of a destination change: the service's identity
/// alone, all the kernel reads of it there (libipvs also sends scheduler,
/// flags, timeout and netmask, which the kernel parses and ignores).
fn identity_nest(w: &mut Writer<'_>, key: &ServiceKey) {
    let n = w.begin(top::SERVICE);
    identity_attrs(w, key);
    w.end(n);
}

/// The attributes that name a service: family, then mark, or protocol,
/// address and port.
fn identity_attrs(w: &mut Writer<'_>, key: &ServiceKey) {
    w.u16(svc::AF, key.af().to_raw());
    match key {
        ServiceKey::Fwmark { mark, .. } => w.u32(svc::FWMARK, *mark),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            w.u16(svc::PROTOCOL, protocol.to_raw());
            w.attr(svc::ADDR, &addr16(addr));
            w.u16_be(svc::PORT, *port);
        }
    }
}

/// Appends the request for `op` to `buf` with the given netlink flags.
pub fn encode_op(buf: &mut Vec<u8>, family_id: u16, seq: u32, flags: u16, op: &Operation) {
    let mut w = Writer::new(buf);
    let command = match op {
        Operation::AddService(_) => cmd::NEW_SERVICE,
        Operation::EditService(_) => cmd::SET_SERVICE,
        Operation::DelService(_) => cmd::DEL_SERVICE,
        Operation::AddDest(..) => cmd::NEW_DEST,
        Operation::EditDest(..) => cmd::SET_DEST,
        Operation::DelDest(..) => cmd::DEL_DEST,
    };
    let m = w.begin_message(family_id, flags, seq, command);
    match op {
        Operation::AddService(s) | Operation::EditService(s) => service_nest(
            &mut w,
            &s.key,
            &s.scheduler,
            s.pe_name.as_deref(),
            s.flags,
            s.timeout,
            s.netmask,
        ),
        Operation::DelService(k) => key_nest(&mut w, k),
        Operation::AddDest(k, d) | Operation::EditDest(k, d) => {
            identity_nest(&mut w, k);
            dest_nest(&mut w, d, d.forward == ForwardMethod::Tunnel);
        }
        Operation::DelDest(k, dk) => {
            key_nest(&mut w, k);
            dest_nest(&mut w, &Destination::new(dk.addr, dk.port), true);
        }
    }
    w.end_message(m);
}

/// Appends the GET_DEST dump request for `s` (as `frame::request` with
/// `RequestKind::Dump` and the nest of `convert::service_attrs`).
pub fn encode_get_dests(buf: &mut Vec<u8>, family_id: u16, seq: u32, s: &Service) {
    let mut w = Writer::new(buf);
    let m = w.begin_message(family_id, NLM_F_REQUEST | NLM_F_DUMP, seq, cmd::GET_DEST);
    service_nest(
        &mut w,
        &s.key,
        &s.scheduler,
        s.pe_name.as_deref(),
        s.flags,
        s.timeout,
        s.netmask,
    );
    w.end_message(m);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DestKey, ForwardMethod, Protocol, Tunnel, TunnelCsum, TunnelType};
    use crate::netlink::client::op_message;
    use crate::netlink::frame::{request, RequestKind};
    use crate::netlink::sim::decode_op;
    use netlink_packet_core::NLM_F_ACK;
    use proptest::prelude::*;

    fn arb_addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    fn arb_key() -> impl Strategy<Value = ServiceKey> {
        prop_oneof![
            (
                prop_oneof![
                    Just(Protocol::Tcp),
                    Just(Protocol::Udp),
                    Just(Protocol::Sctp)
                ],
                arb_addr(),
                any::<u16>()
            )
                .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                    protocol,
                    addr,
                    port
                }),
            (any::<bool>(), 1..u32::MAX).prop_map(|(v6, mark)| ServiceKey::Fwmark {
                af: if v6 {
                    crate::model::AddressFamily::Inet6
                } else {
                    crate::model::AddressFamily::Inet
                },
                mark
            }),
        ]
    }

    fn arb_service() -> impl Strategy<Value = Service> {
        (
            arb_key(),
            "[a-z]{1,6}",
            proptest::option::of("[a-z]{1,4}"),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            0u8..=128,
        )
            .prop_map(|(key, scheduler, pe_name, flags, timeout, m4, p6)| {
                let netmask = match key.af() {
                    crate::model::AddressFamily::Inet => Netmask::V4(m4),
                    crate::model::AddressFamily::Inet6 => Netmask::V6Prefix(p6),
                };
                Service {
                    key,
                    scheduler,
                    flags,
                    timeout,
                    netmask,
                    pe_name,
                }
            })
    }

    fn arb_dest() -> impl Strategy<Value = Destination> {
        (
            arb_addr(),
            any::<u16>(),
            0usize..5,
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            0usize..3,
            any::<u16>(),
            0usize..3,
        )
            .prop_map(|(addr, port, f, weight, u, l, tk, tport, tc)| Destination {
                addr,
                port,
                forward: [
                    ForwardMethod::Masq,
                    ForwardMethod::Local,
                    ForwardMethod::Tunnel,
                    ForwardMethod::Route,
                    ForwardMethod::Bypass,
                ][f],
                weight,
                u_threshold: u,
                l_threshold: l,
                tunnel: Tunnel {
                    kind: [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre][tk],
                    port: tport,
                    csum: [TunnelCsum::NoCsum, TunnelCsum::Csum, TunnelCsum::RemCsum][tc],
                },
            })
    }

    fn arb_op() -> impl Strategy<Value = Operation> {
        prop_oneof![
            arb_service().prop_map(Operation::AddService),
            arb_service().prop_map(Operation::EditService),
            arb_key().prop_map(Operation::DelService),
            (arb_key(), arb_dest()).prop_map(|(k, d)| Operation::AddDest(k, d)),
            (arb_key(), arb_dest()).prop_map(|(k, d)| Operation::EditDest(k, d)),
            (arb_key(), arb_addr(), any::<u16>())
                .prop_map(|(k, addr, port)| Operation::DelDest(k, DestKey { addr, port })),
        ]
    }

    proptest! {
        /// Byte for byte the tree encoder's request for service requests
        /// and deletions; for a destination add or edit, the same header
        /// and the same operation when decoded as the kernel reads it (a
        /// destination that does not tunnel without tunnel settings).
        #[test]
        fn direct_encoding_equals_the_attribute_tree(op in arb_op(), seq in any::<u32>()) {
            let want = request(0x24, seq, RequestKind::Change, op_message(&op));
            let mut got = vec![0xaa; 4];
            encode_op(&mut got, 0x24, seq, NLM_F_REQUEST | NLM_F_ACK, &op);
            let got = &got[4..];
            match &op {
                Operation::AddDest(key, d) | Operation::EditDest(key, d) => {
                    // nlmsghdr (length aside) and genlmsghdr as the tree's.
                    prop_assert_eq!(&got[4..20], &want[4..20]);
                    let len = u32::from_ne_bytes([got[0], got[1], got[2], got[3]]) as usize;
                    prop_assert_eq!(len, got.len());
                    prop_assert!(len < want.len());
                    let decoded = decode_op(got[16], &got[20..]);
                    let mut d = d.clone();
                    if d.forward != ForwardMethod::Tunnel {
                        d.tunnel = Tunnel::default();
                    }
                    let expected = match op {
                        Operation::AddDest(..) => Operation::AddDest(*key, d),
                        _ => Operation::EditDest(*key, d),
                    };
                    prop_assert_eq!(decoded, Some(expected));
                }
                _ => prop_assert_eq!(got, &want[..]),
            }
        }

        #[test]
        fn get_dests_request_equals_the_attribute_tree(s in arb_service(), seq in any::<u32>()) {
            let want = request(
                0x24,
                seq,
                RequestKind::Dump,
                crate::netlink::message::IpvsMessage::new(
                    cmd::GET_DEST,
                    vec![crate::netlink::convert::service_attrs(&s)],
                ),
            );
            let mut got = Vec::new();
            encode_get_dests(&mut got, 0x24, seq, &s);
            prop_assert_eq!(got, want);
        }
    }
}
