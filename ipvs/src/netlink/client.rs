//! `IpvsClient`: IPVS operations over a generic netlink socket.
//!
//! Changes are pipelined: many requests per send, each with its own
//! sequence number, acknowledgements matched by sequence number, one
//! result per operation; a large batch is encoded on a second thread
//! while the kernel handles the previous datagram. The transport is a
//! trait so the client can be tested against a scripted kernel.

use std::io;
use std::sync::mpsc;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;

use super::attr::Attr;
use super::consts::{cmd, top};
use super::convert::{
    daemon_attrs, dest_attrs, parse_daemon, parse_dest, parse_dest_entry, parse_info,
    parse_service, parse_timeouts, service_attrs, timeout_attrs, top_nest_ref, SyncDaemon,
    SyncState, Timeouts,
};
use super::encode::{encode_get_dests, encode_op};
use super::frame::{replies, request, ReplyRef, RequestKind};
use super::message::IpvsMessage;
use crate::error::{describe_errno, IpvsError};
use crate::listing::{IpvsInfo, ListedService, Listing};
use crate::model::{Service, ServiceEntry, ServiceKey, Table};
use crate::ops::{IpvsBackend, OpError, Operation};

/// Sends and receives whole netlink datagrams.
pub trait Transport {
    fn send(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Receives one datagram (possibly several netlink messages).
    fn recv(&mut self) -> io::Result<Vec<u8>>;
    /// Receives one datagram, or several already queued ones back to back,
    /// into `buf` (replacing its contents); lets a transport reuse one
    /// buffer and save system calls. Netlink datagrams hold whole messages
    /// aligned to 4 bytes, so their concatenation parses like one.
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        *buf = self.recv()?;
        Ok(())
    }
    /// Most requests to keep in flight before reading their ACKs.
    fn max_in_flight(&self) -> usize {
        BATCH
    }
}

/// A NETLINK_GENERIC socket talking to the kernel.
pub struct SocketTransport {
    socket: netlink_sys::Socket,
    in_flight: usize,
    /// `RECV_SLOTS` receive slots of `RECV_SLOT` bytes for recvmmsg.
    slots: Vec<u8>,
}

/// One receive slot: larger than any datagram the kernel sends (it sizes
/// dump datagrams to the reader's buffer, at most 32 KiB), so nothing is
/// truncated.
const RECV_SLOT: usize = 64 * 1024;
/// Datagrams taken per receive call: a dump's data and its NLMSG_DONE come
/// in two datagrams, read with one system call.
const RECV_SLOTS: usize = 4;

/// SO_RCVBUFFORCE (root may exceed rmem_max), else SO_RCVBUF.
fn force_rcvbuf(socket: &netlink_sys::Socket, size: usize) {
    use std::os::fd::AsRawFd;
    let v = size as libc::c_int;
    // SAFETY: setsockopt with a valid fd and a c_int option value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let _ = socket.set_rx_buf_sz(size);
    }
}

impl SocketTransport {
    pub fn open() -> io::Result<Self> {
        let mut socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        // Room for the acks of a whole pipelined batch, and acks without
        // the echoed request (NETLINK_CAP_ACK): a 42,000-operation apply
        // would otherwise read back every request it sent.
        force_rcvbuf(&socket, 16 * 1024 * 1024);
        let _ = socket.set_cap_ack(true);
        // Each ACK costs about 1 KiB of receive buffer (skb truesize): keep
        // no more requests in flight than the buffer we got can acknowledge.
        let granted = socket.get_rx_buf_sz().unwrap_or(212_992);
        let in_flight = (granted / 1024).clamp(32, BATCH);
        Ok(SocketTransport {
            socket,
            in_flight,
            slots: vec![0u8; RECV_SLOT * RECV_SLOTS],
        })
    }
}

impl Transport for SocketTransport {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        let n = self.socket.send(buf, 0)?;
        if n != buf.len() {
            return Err(io::Error::other(format!(
                "short netlink send: {n} of {} bytes",
                buf.len()
            )));
        }
        Ok(())
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf)?;
        Ok(buf)
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let base = self.slots.as_mut_ptr();
        let mut iov: [libc::iovec; RECV_SLOTS] = std::array::from_fn(|i| libc::iovec {
            // SAFETY: every slot lies within `self.slots`.
            iov_base: unsafe { base.add(i * RECV_SLOT) } as *mut libc::c_void,
            iov_len: RECV_SLOT,
        });
        // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
        let mut msgs: [libc::mmsghdr; RECV_SLOTS] = unsafe { std::mem::zeroed() };
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
        }
        // Blocks for the first datagram, then takes what is already queued.
        // SAFETY: the headers point at live iovecs over `self.slots`.
        let n = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                RECV_SLOTS as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.clear();
        for (i, m) in msgs.iter().take(n as usize).enumerate() {
            let len = m.msg_len as usize;
            if len > RECV_SLOT || m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                return Err(io::Error::other(format!(
                    "netlink datagram larger than the {RECV_SLOT}-byte receive buffer"
                )));
            }
            buf.extend_from_slice(&self.slots[i * RECV_SLOT..i * RECV_SLOT + len]);
            // Keep the next datagram's messages 4-byte aligned.
            buf.resize(buf.len().next_multiple_of(4), 0);
        }
        Ok(())
    }

    fn max_in_flight(&self) -> usize {
        self.in_flight
    }
}

/// Most requests in one datagram (and in flight) when pipelining.
const BATCH: usize = 1024;
/// Fewer operations than this are encoded on the calling thread; more get
/// an encoder thread that prepares each next datagram while the kernel
/// handles the current one (the kernel does its work inside `sendmsg`, on
/// the sending thread).
const PIPELINE_MIN_OPS: usize = 256;
/// Most bytes in one datagram when pipelining.
const BATCH_BYTES: usize = 128 * 1024;

/// Most datagrams one reply sequence may take before the client gives up
/// (a dump of millions of entries stays far below).
const MAX_REPLY_DATAGRAMS: usize = 1 << 24;

pub struct IpvsClient<T: Transport = SocketTransport> {
    transport: T,
    family_id: u16,
    seq: u32,
    /// Reused request and receive buffers.
    tx: Vec<u8>,
    rx: Vec<u8>,
}

impl IpvsClient<SocketTransport> {
    /// Opens a socket and resolves the "IPVS" family. Without IPVS in the
    /// kernel this is `IpvsError::Unavailable`.
    pub fn open() -> Result<Self, IpvsError> {
        let transport = SocketTransport::open().map_err(IpvsError::Socket)?;
        Self::with_transport(transport)
    }
}

impl<T: Transport> IpvsClient<T> {
    pub fn with_transport(mut transport: T) -> Result<Self, IpvsError> {
        let family_id = resolve_family(&mut transport)?;
        Ok(IpvsClient {
            transport,
            family_id,
            seq: 1,
            tx: Vec::new(),
            rx: Vec::new(),
        })
    }

    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// A run of `n` consecutive sequence numbers (never 0, never wrapping
    /// inside the run), so a reply's index is `seq - first`.
    fn seq_run(&mut self, n: usize) -> u32 {
        let n = n.max(1) as u32;
        if self.seq.checked_add(n).is_none() {
            self.seq = 0;
        }
        let first = self.seq + 1;
        self.seq += n;
        first
    }

    /// Sends one request and collects its replies (data messages until the
    /// ACK or end of dump).
    fn exchange(&mut self, kind: RequestKind, msg: IpvsMessage) -> Result<Vec<Vec<u8>>, IpvsError> {
        let mut data = Vec::new();
        self.exchange_with(kind, msg, |p| {
            data.push(p.to_vec());
            Ok(())
        })?;
        Ok(data)
    }

    /// Sends one request and hands each data reply's payload to `f`,
    /// borrowed from the receive buffer.
    fn exchange_with(
        &mut self,
        kind: RequestKind,
        msg: IpvsMessage,
        f: impl FnMut(&[u8]) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError> {
        let seq = self.next_seq();
        let req = request(self.family_id, seq, kind, msg);
        self.transport.send(&req).map_err(IpvsError::Io)?;
        self.collect(seq, kind, f)
    }

    /// Reads the replies to request `seq` until its ACK or end of dump.
    fn collect(
        &mut self,
        seq: u32,
        kind: RequestKind,
        mut f: impl FnMut(&[u8]) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError> {
        for _ in 0..MAX_REPLY_DATAGRAMS {
            self.transport
                .recv_into(&mut self.rx)
                .map_err(IpvsError::Io)?;
            for r in replies(&self.rx) {
                let r = r.map_err(|e| IpvsError::Decode(e.to_string()))?;
                if r.seq() != seq {
                    continue;
                }
                match r {
                    ReplyRef::Data { payload, .. } => {
                        f(payload)?;
                        if kind == RequestKind::Get {
                            return Ok(());
                        }
                    }
                    ReplyRef::Done { .. } => return Ok(()),
                    ReplyRef::Ack { errno: 0, .. } => return Ok(()),
                    ReplyRef::Ack { errno, .. } => {
                        return Err(IpvsError::Kernel {
                            errno,
                            message: describe_errno(errno, None),
                        })
                    }
                }
            }
        }
        Err(IpvsError::Decode(format!(
            "no end of reply to request {seq} after {MAX_REPLY_DATAGRAMS} datagrams"
        )))
    }

    /// IPVS version and connection table size (`ipvsadm` header line).
    pub fn info(&mut self) -> Result<IpvsInfo, IpvsError> {
        let data = self.exchange(RequestKind::Get, IpvsMessage::new(cmd::GET_INFO, vec![]))?;
        let p = data
            .first()
            .ok_or(IpvsError::Decode("empty GET_INFO reply".into()))?;
        parse_info(p).map_err(|e| IpvsError::Decode(e.to_string()))
    }

    /// Every service, with statistics, without destinations.
    pub fn services(&mut self) -> Result<Vec<ListedService>, IpvsError> {
        let mut out = Vec::new();
        self.exchange_with(
            RequestKind::Dump,
            IpvsMessage::new(cmd::GET_SERVICE, vec![]),
            |p| {
                let nest = top_nest_ref(p, top::SERVICE)
                    .map_err(|e| IpvsError::Decode(e.to_string()))?
                    .ok_or(IpvsError::Decode("service reply without a service".into()))?;
                out.push(parse_service(nest).map_err(|e| IpvsError::Decode(e.to_string()))?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Sends the GET_DEST dump request of `s` and hands each destination
    /// nest to `f`.
    fn dump_dests(
        &mut self,
        s: &Service,
        mut f: impl FnMut(&[u8]) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError> {
        let seq = self.next_seq();
        self.tx.clear();
        encode_get_dests(&mut self.tx, self.family_id, seq, s);
        self.transport.send(&self.tx).map_err(IpvsError::Io)?;
        self.collect(seq, RequestKind::Dump, |p| {
            let nest = top_nest_ref(p, top::DEST)
                .map_err(|e| IpvsError::Decode(e.to_string()))?
                .ok_or(IpvsError::Decode(
                    "destination reply without a destination".into(),
                ))?;
            f(nest)
        })
    }

    /// The destinations of one service, with counters and statistics.
    pub fn destinations(
        &mut self,
        s: &Service,
    ) -> Result<Vec<crate::listing::ListedDest>, IpvsError> {
        let af = s.key.af();
        let mut out = Vec::new();
        self.dump_dests(s, |nest| {
            out.push(parse_dest(nest, af).map_err(|e| IpvsError::Decode(e.to_string()))?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The programmed destinations of one service (no counters).
    fn dest_entries(&mut self, s: &Service) -> Result<Vec<crate::model::Destination>, IpvsError> {
        let af = s.key.af();
        let mut out = Vec::new();
        self.dump_dests(s, |nest| {
            out.push(parse_dest_entry(nest, af).map_err(|e| IpvsError::Decode(e.to_string()))?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Everything `ipvsadm -L` shows.
    pub fn listing(&mut self) -> Result<Listing, IpvsError> {
        let info = self.info()?;
        let mut services = self.services()?;
        for s in &mut services {
            s.destinations = self.destinations(&s.service)?;
        }
        Ok(Listing { info, services })
    }

    /// The table without statistics.
    pub fn table(&mut self) -> Result<Table, IpvsError> {
        let services = self.services()?;
        let mut t = Table::default();
        t.services.reserve(services.len());
        for s in services {
            let destinations = self.dest_entries(&s.service)?;
            t.services.push(ServiceEntry {
                service: s.service,
                destinations,
            });
        }
        Ok(t)
    }

    /// Applies operations pipelined; one result per operation, in order.
    ///
    /// Each datagram carries up to `max_in_flight` requests back to back.
    /// Only the last request of a datagram asks for an ACK: the kernel
    /// answers every failed request with its errno (NACK) whether or not
    /// it was asked to, and handles a datagram's requests in order, so the
    /// ACK of the last one closes the batch and every request without a
    /// NACK succeeded. This saves the kernel one reply, and the client one
    /// receive, per successful operation.
    pub fn apply_ops(&mut self, ops: &[Operation]) -> Result<Vec<Result<(), OpError>>, IpvsError> {
        let mut results: Vec<Result<(), OpError>> = vec![Ok(()); ops.len()];
        if ops.is_empty() {
            return Ok(results);
        }
        let limit = self.transport.max_in_flight().clamp(1, BATCH);
        let first = self.seq_run(ops.len());
        if ops.len() <= PIPELINE_MIN_OPS {
            self.send_encoding_inline(ops, first, limit, &mut results)?;
            return Ok(results);
        }
        let family_id = self.family_id;
        std::thread::scope(|scope| {
            let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize, usize)>(1);
            let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
            let encoder = std::thread::Builder::new()
                .name("ipvs-encode".into())
                .spawn_scoped(scope, move || {
                    let mut at = 0;
                    while at < ops.len() {
                        let mut buf = free_rx.try_recv().unwrap_or_default();
                        buf.clear();
                        let n = encode_batch(&mut buf, family_id, first, ops, at, limit);
                        if full_tx.send((buf, at, n)).is_err() {
                            return; // the sender stopped on an error
                        }
                        at += n;
                    }
                });
            if encoder.is_err() {
                // No thread to be had: encode each datagram before its send.
                return self.send_encoding_inline(ops, first, limit, &mut results);
            }
            // Returning early drops `full_rx`, which stops the encoder.
            for (buf, at, n) in full_rx.iter() {
                self.send_batch(&buf, first, ops, at, n, &mut results)?;
                let _ = free_tx.send(buf);
            }
            Ok(())
        })?;
        Ok(results)
    }

    /// `apply_ops` on one thread: encode a datagram, send it, read its
    /// replies, next.
    fn send_encoding_inline(
        &mut self,
        ops: &[Operation],
        first: u32,
        limit: usize,
        results: &mut [Result<(), OpError>],
    ) -> Result<(), IpvsError> {
        let mut buf = std::mem::take(&mut self.tx);
        let mut start = 0;
        let mut outcome = Ok(());
        while start < ops.len() {
            buf.clear();
            let n = encode_batch(&mut buf, self.family_id, first, ops, start, limit);
            outcome = self.send_batch(&buf, first, ops, start, n, results);
            if outcome.is_err() {
                break;
            }
            start += n;
        }
        self.tx = buf;
        outcome
    }

    /// Sends one encoded datagram, requests `ops[start..start + n]` with
    /// sequence numbers from `first + start`, and records their NACKs.
    fn send_batch(
        &mut self,
        buf: &[u8],
        first: u32,
        ops: &[Operation],
        start: usize,
        n: usize,
        results: &mut [Result<(), OpError>],
    ) -> Result<(), IpvsError> {
        self.transport.send(buf).map_err(IpvsError::Io)?;
        let batch = &ops[start..start + n];
        let results = &mut results[start..start + n];
        let batch_first = first.wrapping_add(start as u32);
        let last = batch_first.wrapping_add((n - 1) as u32);
        self.read_batch_acks(batch_first, last, |i, errno| {
            results[i] = Err(OpError {
                errno,
                message: describe_errno(errno, Some(&batch[i])),
            });
        })
    }

    /// Reads replies until the ACK (or NACK) of `last`; `nack(i, errno)`
    /// for each failed request `first + i`.
    fn read_batch_acks(
        &mut self,
        first: u32,
        last: u32,
        mut nack: impl FnMut(usize, i32),
    ) -> Result<(), IpvsError> {
        let span = last.wrapping_sub(first);
        for _ in 0..MAX_REPLY_DATAGRAMS {
            self.transport
                .recv_into(&mut self.rx)
                .map_err(IpvsError::Io)?;
            let mut closed = false;
            for r in replies(&self.rx) {
                let r = r.map_err(|e| IpvsError::Decode(e.to_string()))?;
                let ReplyRef::Ack { seq, errno } = r else {
                    continue;
                };
                let i = seq.wrapping_sub(first);
                if i > span {
                    continue;
                }
                if errno != 0 {
                    nack(i as usize, errno);
                }
                if seq == last {
                    closed = true;
                }
            }
            if closed {
                return Ok(());
            }
        }
        Err(IpvsError::Decode(format!(
            "no acknowledgement of request {last} after {MAX_REPLY_DATAGRAMS} datagrams"
        )))
    }

    fn change(&mut self, msg: IpvsMessage) -> Result<(), IpvsError> {
        self.exchange(RequestKind::Change, msg).map(|_| ())
    }

    /// Deletes every service (`ipvsadm -C`).
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.change(IpvsMessage::new(cmd::FLUSH, vec![]))
    }

    /// Zeroes counters of one service or of all (`ipvsadm -Z`).
    pub fn zero(&mut self, service: Option<&Service>) -> Result<(), IpvsError> {
        let attrs = service.map(|s| vec![service_attrs(s)]).unwrap_or_default();
        self.change(IpvsMessage::new(cmd::ZERO, attrs))
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let data = self.exchange(RequestKind::Get, IpvsMessage::new(cmd::GET_CONFIG, vec![]))?;
        let p = data
            .first()
            .ok_or(IpvsError::Decode("empty GET_CONFIG reply".into()))?;
        parse_timeouts(p).map_err(|e| IpvsError::Decode(e.to_string()))
    }

    /// Sets connection timeouts; 0 leaves a value unchanged.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        self.change(IpvsMessage::new(cmd::SET_CONFIG, timeout_attrs(t)))
    }

    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let data = self.exchange(RequestKind::Dump, IpvsMessage::new(cmd::GET_DAEMON, vec![]))?;
        let mut out = Vec::new();
        for p in data {
            if let Some(nest) =
                top_nest_ref(&p, top::DAEMON).map_err(|e| IpvsError::Decode(e.to_string()))?
            {
                out.push(parse_daemon(nest).map_err(|e| IpvsError::Decode(e.to_string()))?);
            }
        }
        Ok(out)
    }

    pub fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        self.change(IpvsMessage::new(cmd::NEW_DAEMON, vec![daemon_attrs(d)]))
    }

    pub fn stop_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        let st = match state {
            SyncState::Master => 1,
            SyncState::Backup => 2,
        };
        self.change(IpvsMessage::new(
            cmd::DEL_DAEMON,
            vec![Attr::Nested(
                top::DAEMON,
                vec![Attr::U32(super::consts::daemon::STATE, st)],
            )],
        ))
    }
}

/// Encodes requests from `ops[start..]` into `buf` (at most `limit`, and
/// no more once the datagram reaches `BATCH_BYTES`), `ops[i]` with sequence
/// number `first + i`; only the last asks for an ACK. Returns how many.
fn encode_batch(
    buf: &mut Vec<u8>,
    family_id: u16,
    first: u32,
    ops: &[Operation],
    start: usize,
    limit: usize,
) -> usize {
    let count = (ops.len() - start).min(limit);
    let mut last_off = 0;
    let mut n = 0;
    while n < count && buf.len() < BATCH_BYTES {
        last_off = buf.len();
        let i = start + n;
        encode_op(
            buf,
            family_id,
            first.wrapping_add(i as u32),
            NLM_F_REQUEST,
            &ops[i],
        );
        n += 1;
    }
    // The last request of the datagram asks for the closing ACK.
    let flags = (NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes();
    buf[last_off + 6..last_off + 8].copy_from_slice(&flags);
    n
}

/// The request for one operation.
pub fn op_message(op: &Operation) -> IpvsMessage {
    match op {
        Operation::AddService(s) => IpvsMessage::new(cmd::NEW_SERVICE, vec![service_attrs(s)]),
        Operation::EditService(s) => IpvsMessage::new(cmd::SET_SERVICE, vec![service_attrs(s)]),
        Operation::DelService(k) => {
            IpvsMessage::new(cmd::DEL_SERVICE, vec![service_attrs(&Service::new(*k))])
        }
        Operation::AddDest(k, d) => IpvsMessage::new(
            cmd::NEW_DEST,
            vec![service_attrs(&Service::new(*k)), dest_attrs(k.af(), d)],
        ),
        Operation::EditDest(k, d) => IpvsMessage::new(
            cmd::SET_DEST,
            vec![service_attrs(&Service::new(*k)), dest_attrs(k.af(), d)],
        ),
        Operation::DelDest(k, dk) => {
            let d = crate::model::Destination::new(dk.addr, dk.port);
            IpvsMessage::new(
                cmd::DEL_DEST,
                vec![service_attrs(&Service::new(*k)), dest_attrs(k.af(), &d)],
            )
        }
    }
}

fn op_error(e: IpvsError) -> OpError {
    OpError {
        errno: e.errno(),
        message: e.to_string(),
    }
}

impl<T: Transport> IpvsBackend for IpvsClient<T> {
    fn dump(&mut self) -> Result<Table, OpError> {
        self.table().map_err(op_error)
    }

    fn listing(&mut self) -> Result<Listing, OpError> {
        IpvsClient::listing(self).map_err(op_error)
    }

    fn flush(&mut self) -> Result<(), OpError> {
        IpvsClient::flush(self).map_err(op_error)
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), OpError> {
        IpvsClient::set_timeouts(self, t).map_err(op_error)
    }

    fn apply(&mut self, ops: &[Operation]) -> Vec<Result<(), OpError>> {
        match self.apply_ops(ops) {
            Ok(r) => r,
            Err(e) => ops
                .iter()
                .map(|_| {
                    Err(OpError {
                        errno: e.errno(),
                        message: e.to_string(),
                    })
                })
                .collect(),
        }
    }
}

/// Resolves the "IPVS" generic netlink family through nlctrl.
fn resolve_family<T: Transport>(t: &mut T) -> Result<u16, IpvsError> {
    let ctrl = GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(
            super::consts::FAMILY_NAME.to_string(),
        )],
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = 1;
    let mut nl = NetlinkMessage::new(
        header,
        NetlinkPayload::from(GenlMessage::from_payload(ctrl)),
    );
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    t.send(&buf).map_err(IpvsError::Socket)?;
    let mut family = None;
    loop {
        let data = t.recv().map_err(IpvsError::Socket)?;
        let mut off = 0;
        while off + 16 <= data.len() {
            let len = u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
                as usize;
            if len < 16 || off + len > data.len() {
                return Err(IpvsError::Decode("truncated nlctrl reply".into()));
            }
            let msg = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&data[off..off + len])
                .map_err(|e| IpvsError::Decode(e.to_string()))?;
            match msg.payload {
                NetlinkPayload::InnerMessage(g) => {
                    for a in &g.payload.nlas {
                        if let GenlCtrlAttrs::FamilyId(id) = a {
                            family = Some(*id);
                        }
                    }
                }
                NetlinkPayload::Error(e) => {
                    let errno = -e.raw_code();
                    if errno == 0 {
                        return family.ok_or(IpvsError::Unavailable(
                            "the kernel did not report the IPVS family id".into(),
                        ));
                    }
                    if errno == libc::ENOENT {
                        return Err(IpvsError::Unavailable(
                            "the kernel has no IPVS generic netlink family".into(),
                        ));
                    }
                    return Err(IpvsError::Kernel {
                        errno,
                        message: describe_errno(errno, None),
                    });
                }
                _ => {}
            }
            off += (len + 3) & !3;
        }
    }
}

/// A service key's request form, for callers that hold only a key.
pub fn key_service(k: ServiceKey) -> Service {
    Service::new(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::NLM_F_DUMP;

    /// The real socket's batched receive, on the one generic netlink family
    /// every kernel has: a dump of nlctrl's families comes in several
    /// datagrams and NLMSG_DONE, read back to back into one buffer.
    #[test]
    fn socket_receives_a_multi_datagram_dump_whole() {
        let Ok(mut t) = SocketTransport::open() else {
            return; // no netlink in this sandbox
        };
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![],
        };
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = 7;
        let mut nl = NetlinkMessage::new(
            header,
            NetlinkPayload::from(GenlMessage::from_payload(ctrl)),
        );
        nl.finalize();
        let mut req = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut req);
        t.send(&req).unwrap();
        let mut families = 0;
        let mut buf = Vec::new();
        for _ in 0..1000 {
            t.recv_into(&mut buf).unwrap();
            for r in replies(&buf) {
                match r.unwrap() {
                    ReplyRef::Data { seq: 7, .. } => families += 1,
                    ReplyRef::Done { seq: 7 } => {
                        assert!(families >= 1, "nlctrl lists itself");
                        return;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        panic!("no end of dump");
    }
}
