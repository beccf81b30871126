//! Host-side cost of the IPVS client for the lab benchmark's table
//! (2,000 services x 20 destinations): encoding, pipelined apply against a
//! kernel that only acknowledges, and the full dump replayed from recorded
//! kernel replies. Prints figures; the kernel's own work is left out.
//!
//! `cargo run --release -p lvsd-ipvs --example netlink_bench [SERVICES DESTS]`

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::time::Instant;

use lvsd_ipvs::netlink::client::{op_message, IpvsClient, Transport};
use lvsd_ipvs::netlink::encode::encode_op;
use lvsd_ipvs::netlink::frame::{request, RequestKind};
use lvsd_ipvs::netlink::sim::SimKernel;
use lvsd_ipvs::{
    Destination, ForwardMethod, IpvsBackend, Operation, Protocol, Service, ServiceKey,
};

fn ops(services: usize, dests: usize) -> Vec<Operation> {
    let mut v = Vec::with_capacity(services * (dests + 1));
    for i in 0..services {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([10, 100 + (i / 250) as u8, (i % 250) as u8, 1]),
            port: 80,
        };
        let mut s = Service::new(key);
        s.scheduler = "wrr".into();
        v.push(Operation::AddService(s));
        for r in 0..dests {
            let mut d = Destination::new(
                IpAddr::from([10, 200 + (i / 250) as u8, (i % 250) as u8, 10 + r as u8]),
                8080,
            );
            d.forward = ForwardMethod::Masq;
            d.weight = 1 + (r % 5) as u32;
            v.push(Operation::AddDest(key, d));
        }
    }
    v
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Acknowledges (as the kernel would, NACKing nothing) every request that
/// asks for an ACK; family resolution is delegated to a simulated kernel.
struct AckOnly {
    sim: SimKernel,
    resolved: bool,
    out: VecDeque<Vec<u8>>,
    sends: usize,
}

impl Transport for AckOnly {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        if !self.resolved {
            self.resolved = true;
            return self.sim.send(buf);
        }
        self.sends += 1;
        let mut off = 0;
        while off + 16 <= buf.len() {
            let len = u32_at(buf, off) as usize;
            let flags = u16::from_ne_bytes([buf[off + 6], buf[off + 7]]);
            if flags & 4 != 0 {
                let mut a = vec![0u8; 36];
                a[0..4].copy_from_slice(&36u32.to_ne_bytes());
                a[4..6].copy_from_slice(&2u16.to_ne_bytes());
                a[8..12].copy_from_slice(&buf[off + 8..off + 12]);
                a[20..36].copy_from_slice(&buf[off..off + 16]);
                self.out.push_back(a);
            }
            off += (len + 3) & !3;
        }
        Ok(())
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        if let Some(d) = self.out.pop_front() {
            return Ok(d);
        }
        self.sim.recv()
    }
}

/// Records the datagrams answering each request, then replays them with
/// the sequence numbers of new requests.
struct Recorder {
    sim: SimKernel,
    log: Vec<Vec<Vec<u8>>>,
}

impl Transport for Recorder {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        self.log.push(Vec::new());
        self.sim.send(buf)
    }
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        let d = self.sim.recv()?;
        if let Some(l) = self.log.last_mut() {
            l.push(d.clone());
        }
        Ok(d)
    }
}

struct Replay {
    log: Vec<Vec<Vec<u8>>>,
    next: usize,
    out: VecDeque<Vec<u8>>,
}

impl Transport for Replay {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        let seq = u32_at(buf, 8);
        let answer = self
            .log
            .get(self.next)
            .ok_or_else(|| io::Error::other("replay exhausted"))?;
        self.next += 1;
        for d in answer {
            let mut d = d.clone();
            let mut off = 0;
            while off + 16 <= d.len() {
                let len = u32_at(&d, off) as usize;
                d[off + 8..off + 12].copy_from_slice(&seq.to_ne_bytes());
                off += (len + 3) & !3;
            }
            self.out.push_back(d);
        }
        Ok(())
    }
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.out
            .pop_front()
            .ok_or_else(|| io::Error::new(io::ErrorKind::WouldBlock, "no reply"))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let services = args.first().copied().unwrap_or(2000);
    let dests = args.get(1).copied().unwrap_or(20);
    let ops = ops(services, dests);
    let n = ops.len();
    println!("{n} operations ({services} services x {dests} destinations)");

    let t = Instant::now();
    let mut bytes = 0;
    for (i, op) in ops.iter().enumerate() {
        bytes += request(0x24, i as u32, RequestKind::Change, op_message(op)).len();
    }
    let tree = t.elapsed();
    let t = Instant::now();
    let mut buf = Vec::with_capacity(1 << 20);
    for (i, op) in ops.iter().enumerate() {
        if buf.len() > 128 * 1024 {
            buf.clear();
        }
        encode_op(&mut buf, 0x24, i as u32, 5, op);
    }
    let direct = t.elapsed();
    println!(
        "encode: attribute tree {:.1} ms, direct {:.1} ms ({bytes} bytes, {:.0} ns/op)",
        tree.as_secs_f64() * 1e3,
        direct.as_secs_f64() * 1e3,
        direct.as_secs_f64() * 1e9 / n as f64
    );

    let mut c = IpvsClient::with_transport(AckOnly {
        sim: SimKernel::default(),
        resolved: false,
        out: VecDeque::new(),
        sends: 0,
    })?;
    let t = Instant::now();
    let r = c.apply(&ops);
    let e = t.elapsed();
    println!(
        "apply (client side): {:.1} ms, {} datagrams, {} errors, {:.0} ops/s",
        e.as_secs_f64() * 1e3,
        c.transport().sends,
        r.iter().filter(|x| x.is_err()).count(),
        n as f64 / e.as_secs_f64()
    );

    let mut rec = IpvsClient::with_transport(Recorder {
        sim: SimKernel::default(),
        log: Vec::new(),
    })?;
    let r = rec.apply(&ops);
    if r.iter().any(|x| x.is_err()) {
        return Err("the simulated kernel refused the table".into());
    }
    let log_start = rec.transport().log.len();
    let t = Instant::now();
    let table = rec.dump()?;
    println!(
        "dump through the simulated kernel: {:.1} ms (simulation included)",
        t.elapsed().as_secs_f64() * 1e3
    );
    // The family resolution's answer, then the dump's.
    let mut replay_log = vec![rec.transport().log[0].clone()];
    replay_log.extend(rec.transport().log[log_start..].iter().cloned());
    let mut c = IpvsClient::with_transport(Replay {
        log: replay_log,
        next: 0,
        out: VecDeque::new(),
    })?;
    let t = Instant::now();
    let t2 = c.dump()?;
    let e = t.elapsed();
    println!(
        "dump (client side, replayed): {:.1} ms, {} services, {} destinations, {:.0} entries/s",
        e.as_secs_f64() * 1e3,
        t2.services.len(),
        t2.services
            .iter()
            .map(|s| s.destinations.len())
            .sum::<usize>(),
        n as f64 / e.as_secs_f64()
    );
    if t2 != table {
        return Err("replayed dump differs".into());
    }
    Ok(())
}
