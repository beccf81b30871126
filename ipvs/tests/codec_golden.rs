//! Golden bytes (ipvs-netlink.md §1.4) and the client over a simulated
//! kernel: requests byte for byte as libipvs sends them, kernel replies
//! decoded tolerantly, pipelined changes with per-operation errors.

use std::collections::HashSet;

use lvsd_ipvs::netlink::attr::Attr;
use lvsd_ipvs::netlink::client::{op_message, IpvsClient, Transport};
use lvsd_ipvs::netlink::consts::cmd;
use lvsd_ipvs::netlink::convert::{parse_info, parse_service, service_attrs, top_nest};
use lvsd_ipvs::netlink::frame::{parse_replies, request, Reply, RequestKind};
use lvsd_ipvs::netlink::message::IpvsMessage;
use lvsd_ipvs::netlink::sim::SimKernel;
use lvsd_ipvs::reconcile::reconcile;
use lvsd_ipvs::{
    svc_flags, Destination, ForwardMethod, IpvsBackend, Netmask, Operation, Protocol, Service,
    ServiceEntry, ServiceKey, Table,
};
use netlink_packet_core::Emitable;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn emit(a: &Attr) -> Vec<u8> {
    let mut b = vec![0u8; a.buffer_len()];
    a.emit(&mut b);
    b
}

fn svc(addr: &str, port: u16) -> Service {
    Service::new(ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: addr.parse().unwrap(),
        port,
    })
}

/// seesaw `nlmIPVSAddService`: the service nest (port 0x5000 = 20480).
#[test]
fn service_nest_matches_seesaw() {
    let want = hex(
        "54 00 01 80 06 00 01 00 02 00 00 00 06 00 02 00 06 00 00 00 \
         14 00 03 00 01 01 01 01 00 00 00 00 00 00 00 00 00 00 00 00 \
         06 00 04 00 50 00 00 00 08 00 06 00 77 6c 63 00 \
         0c 00 07 00 00 00 00 00 ff ff ff ff 08 00 08 00 00 00 00 00 \
         08 00 09 00 ff ff ff ff",
    );
    assert_eq!(emit(&service_attrs(&svc("1.1.1.1", 20480))), want);
}

/// The NEW_DEST request of §1.4(c), whole message, byte for byte.
#[test]
fn new_dest_request_matches_libipvs() {
    let want = hex("c8 00 00 00 24 00 05 00 01 00 00 00 00 00 00 00 \
         05 01 00 00 54 00 01 80 06 00 01 00 02 00 00 00 \
         06 00 02 00 06 00 00 00 14 00 03 00 c0 a8 0a 64 \
         00 00 00 00 00 00 00 00 00 00 00 00 06 00 04 00 \
         00 50 00 00 08 00 06 00 77 6c 63 00 0c 00 07 00 \
         00 00 00 00 ff ff ff ff 08 00 08 00 00 00 00 00 \
         08 00 09 00 ff ff ff ff 60 00 02 80 06 00 0b 00 \
         02 00 00 00 14 00 01 00 0a 00 00 0b 00 00 00 00 \
         00 00 00 00 00 00 00 00 06 00 02 00 00 50 00 00 \
         08 00 03 00 03 00 00 00 08 00 04 00 03 00 00 00 \
         05 00 0d 00 00 00 00 00 06 00 0e 00 00 00 00 00 \
         06 00 0f 00 00 00 00 00 08 00 05 00 00 00 00 00 \
         08 00 06 00 00 00 00 00");
    let key = svc("192.168.10.100", 80).key;
    let mut d = Destination::new("10.0.0.11".parse().unwrap(), 80);
    d.forward = ForwardMethod::Route;
    d.weight = 3;
    let got = request(
        0x24,
        1,
        RequestKind::Change,
        op_message(&Operation::AddDest(key, d)),
    );
    assert_eq!(got, want);
}

#[test]
fn dump_and_info_requests() {
    assert_eq!(
        request(
            0x24,
            2,
            RequestKind::Dump,
            IpvsMessage::new(cmd::GET_SERVICE, vec![])
        ),
        hex("14 00 00 00 24 00 01 03 02 00 00 00 00 00 00 00 04 01 00 00")
    );
    let info = request(
        0x24,
        3,
        RequestKind::Get,
        IpvsMessage::new(cmd::GET_INFO, vec![]),
    );
    assert_eq!(&info[16..], &hex("0f 01 00 00")[..]);
}

/// seesaw `nlmIPVSInfo`: a kernel GET_INFO reply.
#[test]
fn info_reply_decodes() {
    let reply = hex("24 00 00 00 19 00 00 00 c6 20 c8 55 33 28 00 00 \
         0e 01 00 00 08 00 01 00 01 02 01 00 08 00 02 00 00 10 00 00");
    let r = parse_replies(&reply).unwrap();
    let Reply::Data { cmd, payload, .. } = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(*cmd, 14);
    let i = parse_info(payload).unwrap();
    assert_eq!((i.version, i.conn_tab_size), (0x010201, 4096));
}

/// A kernel dump entry: no NLA_F_NESTED, HASHED flag, u32 STATS with u64
/// byte counters, an unknown attribute, IPv6 prefix netmask.
#[test]
fn kernel_service_reply_decodes_tolerantly() {
    let stats = vec![
        Attr::U32(1, 6034),
        Attr::U32(2, 81246),
        Attr::U32(3, 0),
        Attr::Bytes(4, 9625345u64.to_ne_bytes().to_vec()),
        Attr::Bytes(5, 0u64.to_ne_bytes().to_vec()),
    ];
    let stats_bytes = {
        let s = stats.as_slice();
        let mut b = vec![0u8; s.buffer_len()];
        s.emit(&mut b);
        b
    };
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&(svc_flags::HASHED | svc_flags::PERSISTENT).to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    let mut addr = [0u8; 16];
    addr.copy_from_slice(
        &"2001:db8::100"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    let inner = vec![
        Attr::U16(1, 10),
        Attr::U16(2, 6),
        Attr::Bytes(3, addr.to_vec()),
        Attr::U16Be(4, 80),
        Attr::Str(6, "mh".into()),
        Attr::Bytes(7, flags.to_vec()),
        Attr::U32(8, 60),
        Attr::U32(9, 64),
        Attr::Bytes(10, stats_bytes),
        Attr::U32(99, 7),
    ];
    let nest_bytes = {
        let s = inner.as_slice();
        let mut b = vec![0u8; s.buffer_len()];
        s.emit(&mut b);
        b
    };
    let payload = emit(&Attr::Bytes(1, nest_bytes));
    assert_eq!(
        u16::from_ne_bytes([payload[2], payload[3]]),
        1,
        "no NESTED flag"
    );
    let nest = top_nest(&payload, 1).unwrap().unwrap();
    let ls = parse_service(&nest).unwrap();
    assert_eq!(ls.service.flags, svc_flags::PERSISTENT, "HASHED masked");
    assert_eq!(ls.service.netmask, Netmask::V6Prefix(64));
    assert_eq!(ls.service.timeout, 60);
    assert_eq!(ls.service.scheduler, "mh");
    assert_eq!(
        (ls.stats.conns, ls.stats.inpkts, ls.stats.inbytes),
        (6034, 81246, 9625345)
    );
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_replies(&b);
        let _ = parse_service(&b);
        let _ = lvsd_ipvs::netlink::convert::parse_dest(&b, lvsd_ipvs::AddressFamily::Inet);
        let _ = parse_info(&b);
    }

    #[test]
    fn service_round_trip(a in any::<[u8; 4]>(), port in 1u16.., sched in prop::sample::select(vec!["rr", "wlc", "mh"]), timeout in 0u32..100000, mask in any::<u32>()) {
        let mut s = Service::new(ServiceKey::Addr { protocol: Protocol::Udp, addr: std::net::IpAddr::from(a), port });
        s.scheduler = sched.into();
        s.flags = svc_flags::PERSISTENT | svc_flags::SCHED2;
        s.timeout = timeout;
        s.netmask = Netmask::V4(mask);
        let nest = emit(&service_attrs(&s));
        let back = parse_service(&top_nest(&nest, 1).unwrap().unwrap()).unwrap().service;
        prop_assert_eq!(back, s);
    }
}

fn table() -> Table {
    let mut t = Table::default();
    for p in [80u16, 443] {
        let mut e = ServiceEntry {
            service: svc("10.0.0.1", p),
            destinations: vec![],
        };
        for i in 11..14u8 {
            let mut d = Destination::new(std::net::IpAddr::from([10, 0, 1, i]), p);
            d.weight = i as u32;
            e.destinations.push(d);
        }
        t.services.push(e);
    }
    t
}

#[test]
fn client_over_simulated_kernel_pipelines_and_reconciles() {
    let mut c = IpvsClient::with_transport(SimKernel::default()).unwrap();
    assert_eq!(c.family_id(), 0x24);
    let mut own = HashSet::new();
    let r = reconcile(&mut c, &table(), &mut own).unwrap();
    assert_eq!(r.applied, 8);
    assert!(r.is_clean(), "{:?}", r.failed);
    let mut got = c.table().unwrap();
    got.sort();
    let mut want = table();
    want.sort();
    assert_eq!(got, want);
    let again = reconcile(&mut c, &table(), &mut own).unwrap();
    assert_eq!(again.applied, 0);
    let l = c.listing().unwrap();
    assert_eq!(l.info.version, 0x010201);
    assert_eq!(l.services.len(), 2);
}

#[test]
fn pipelined_batch_reports_per_operation_errors() {
    let mut c = IpvsClient::with_transport(SimKernel::default()).unwrap();
    let s = svc("10.0.0.1", 80);
    let mut bad = svc("10.0.0.2", 80);
    bad.scheduler = "twos".into();
    let d = Destination::new("10.0.1.1".parse().unwrap(), 80);
    let ops = vec![
        Operation::AddService(s.clone()),
        Operation::AddService(s.clone()),
        Operation::AddService(bad),
        Operation::AddDest(s.key, d.clone()),
        Operation::AddDest(s.key, d),
    ];
    let r = c.apply(&ops);
    assert!(r[0].is_ok());
    assert_eq!(r[1].as_ref().unwrap_err().message, "service already exists");
    assert_eq!(
        r[2].as_ref().unwrap_err().message,
        "scheduler module ip_vs_twos is not available"
    );
    assert!(r[3].is_ok());
    assert_eq!(
        r[4].as_ref().unwrap_err().message,
        "destination already exists"
    );
}

struct Counting(SimKernel);

impl Transport for Counting {
    fn send(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.send(buf)
    }
    fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        self.0.recv()
    }
}

#[test]
fn many_operations_take_few_datagrams() {
    let mut c = IpvsClient::with_transport(Counting(SimKernel::default())).unwrap();
    let mut ops = Vec::new();
    for i in 0..200u32 {
        let s = svc(&format!("10.1.{}.{}", i / 250, i % 250 + 1), 80);
        ops.push(Operation::AddService(s.clone()));
        for j in 0..5u8 {
            ops.push(Operation::AddDest(
                s.key,
                Destination::new(std::net::IpAddr::from([10, 2, (i % 250) as u8, j + 1]), 80),
            ));
        }
    }
    let before = c_datagrams(&c);
    let r = c.apply(&ops);
    assert!(r.iter().all(|x| x.is_ok()));
    let sent = c_datagrams(&c) - before;
    assert!(
        sent <= 1200 / 256 + 2,
        "{sent} datagrams for 1200 operations"
    );
}

/// Records every datagram the client sends.
struct Recording(SimKernel, Vec<Vec<u8>>);

impl Transport for Recording {
    fn send(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.1.push(buf.to_vec());
        self.0.send(buf)
    }
    fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        self.0.recv()
    }
    fn max_in_flight(&self) -> usize {
        100
    }
}

/// (flags, seq) of each netlink message in a datagram.
fn headers(d: &[u8]) -> Vec<(u16, u32)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= d.len() {
        let len = u32::from_le_bytes(d[off..off + 4].try_into().unwrap()) as usize;
        let flags = u16::from_le_bytes(d[off + 6..off + 8].try_into().unwrap());
        let seq = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap());
        out.push((flags, seq));
        off += (len + 3) & !3;
    }
    out
}

/// Only the last request of a datagram asks for an ACK; failures anywhere
/// in a batch (first, middle, last request of a datagram) still come back
/// for exactly the operations that failed, with the kernel's errno. Run
/// with few operations (encoded on the calling thread) and with many (an
/// encoder thread prepares the next datagram).
#[test]
fn batches_ask_one_ack_and_still_report_every_failure() {
    for services in [250u32, 550] {
        let mut c =
            IpvsClient::with_transport(Recording(SimKernel::default(), Vec::new())).unwrap();
        let mut ops = Vec::new();
        for i in 0..services {
            let s = svc(&format!("10.9.{}.{}", i / 250, i % 250 + 1), 80);
            ops.push(Operation::AddService(s));
        }
        // Duplicates at the first, a middle and the last place of datagrams.
        let dup = |i: usize| Operation::AddService(svc(&format!("10.9.0.{}", i + 1), 80));
        ops.insert(100, dup(3));
        ops.insert(150, dup(4));
        ops.insert(199, dup(5));
        ops.push(Operation::DelService(svc("10.9.9.9", 80).key));
        let last = ops.len() - 1;
        let sent_before = c.transport().1.len();
        let r = c.apply(&ops);
        let failed: Vec<(usize, i32)> = r
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.as_ref().err().map(|e| (i, e.errno)))
            .collect();
        assert_eq!(
            failed,
            vec![
                (100, libc::EEXIST),
                (150, libc::EEXIST),
                (199, libc::EEXIST),
                (last, libc::ESRCH)
            ]
        );
        assert_eq!(r[last].as_ref().unwrap_err().message, "no such service");
        let sent = &c.transport().1[sent_before..];
        assert_eq!(sent.len(), ops.len().div_ceil(100), "100 per datagram");
        let mut seqs = Vec::new();
        for d in sent {
            let h = headers(d);
            for (i, (flags, seq)) in h.iter().enumerate() {
                let ack = flags & 4 != 0;
                assert_eq!(ack, i == h.len() - 1, "ACK flag of message {i}: {flags:#x}");
                assert_eq!(flags & 1, 1, "NLM_F_REQUEST");
                seqs.push(*seq);
            }
        }
        assert_eq!(seqs.len(), ops.len());
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "consecutive sequence numbers"
        );
        // The kernel holds exactly the services, and a dump reads them back.
        assert_eq!(c.dump().unwrap().services.len(), services as usize);
    }
}

/// A transport whose sends start failing after `ok` datagrams.
struct Breaking(SimKernel, usize);

impl Transport for Breaking {
    fn send(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.1 == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOBUFS));
        }
        self.1 -= 1;
        self.0.send(buf)
    }
    fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        self.0.recv()
    }
    fn max_in_flight(&self) -> usize {
        100
    }
}

/// A socket error in the middle of a pipelined batch ends the batch with
/// that error (the encoder thread stops; nothing hangs), and the client
/// stays usable.
#[test]
fn a_send_error_mid_pipeline_is_returned() {
    let mut c = IpvsClient::with_transport(Breaking(SimKernel::default(), 4)).unwrap();
    // Resolving the family took one datagram; three batches go through.
    let ops: Vec<Operation> = (0..1000u32)
        .map(|i| Operation::AddService(svc(&format!("10.8.{}.{}", i / 250, i % 250 + 1), 80)))
        .collect();
    let err = c.apply_ops(&ops).unwrap_err();
    assert!(err.to_string().contains("No buffer space"), "{err}");
    c.transport_mut().1 = usize::MAX;
    assert_eq!(c.dump().unwrap().services.len(), 300);
}

fn c_datagrams(c: &IpvsClient<Counting>) -> usize {
    c.transport().0.datagrams
}

#[test]
fn absent_ipvs_is_one_clear_error() {
    let mut sim = SimKernel::default();
    sim.absent = true;
    let e = IpvsClient::with_transport(sim).err().unwrap().to_string();
    assert!(e.contains("IPVS is not available in this kernel"), "{e}");
    assert!(e.contains("modprobe ip_vs"), "{e}");
}

#[test]
fn real_socket_here_reports_unavailable_or_works() {
    match IpvsClient::open() {
        Ok(mut c) => {
            // A kernel with IPVS (the lab): info must decode.
            c.info().unwrap();
        }
        Err(e) => {
            let t = e.to_string();
            assert!(
                t.contains("IPVS is not available") || t.contains("permission denied"),
                "{t}"
            );
        }
    }
}
