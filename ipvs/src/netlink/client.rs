//! `IpvsClient`: IPVS operations over a generic netlink socket.
//!
//! Changes are pipelined: many requests per send, each with NLM_F_ACK and
//! its own sequence number, acknowledgements matched by sequence number, one
//! result per operation. The transport is a trait so the client can be
//! tested against a scripted kernel.

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;

use super::attr::Attr;
use super::consts::{cmd, top};
use super::convert::{
    daemon_attrs, dest_attrs, parse_daemon, parse_dest, parse_info, parse_service, parse_timeouts,
    service_attrs, timeout_attrs, top_nest, SyncDaemon, SyncState, Timeouts,
};
use super::frame::{parse_replies, request, Reply, RequestKind};
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
    /// Most requests to keep in flight before reading their ACKs.
    fn max_in_flight(&self) -> usize {
        BATCH
    }
}

/// A NETLINK_GENERIC socket talking to the kernel.
pub struct SocketTransport {
    socket: netlink_sys::Socket,
    buf: Vec<u8>,
    in_flight: usize,
}

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
            buf: vec![0u8; 1 << 20],
            in_flight,
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
        let n = self.socket.recv(&mut &mut self.buf[..], 0)?;
        Ok(self.buf[..n].to_vec())
    }

    fn max_in_flight(&self) -> usize {
        self.in_flight
    }
}

/// Most requests in one datagram (and in flight) when pipelining.
const BATCH: usize = 1024;
/// Most bytes in one datagram when pipelining.
const BATCH_BYTES: usize = 128 * 1024;

pub struct IpvsClient<T: Transport = SocketTransport> {
    transport: T,
    family_id: u16,
    seq: u32,
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
        })
    }

    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Sends one request and collects its replies (data messages until the
    /// ACK or end of dump).
    fn exchange(&mut self, kind: RequestKind, msg: IpvsMessage) -> Result<Vec<Vec<u8>>, IpvsError> {
        let seq = self.next_seq();
        let req = request(self.family_id, seq, kind, msg);
        self.transport.send(&req).map_err(IpvsError::Io)?;
        let mut data = Vec::new();
        loop {
            let buf = self.transport.recv().map_err(IpvsError::Io)?;
            for r in parse_replies(&buf).map_err(|e| IpvsError::Decode(e.to_string()))? {
                if r.seq() != seq {
                    continue;
                }
                match r {
                    Reply::Data { payload, .. } => {
                        data.push(payload);
                        if kind == RequestKind::Get {
                            return Ok(data);
                        }
                    }
                    Reply::Done { .. } => return Ok(data),
                    Reply::Ack { errno: 0, .. } => return Ok(data),
                    Reply::Ack { errno, .. } => {
                        return Err(IpvsError::Kernel {
                            errno,
                            message: describe_errno(errno, None),
                        })
                    }
                }
            }
        }
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
        let data = self.exchange(
            RequestKind::Dump,
            IpvsMessage::new(cmd::GET_SERVICE, vec![]),
        )?;
        let mut out = Vec::with_capacity(data.len());
        for p in data {
            let nest = top_nest(&p, top::SERVICE)
                .map_err(|e| IpvsError::Decode(e.to_string()))?
                .ok_or(IpvsError::Decode("service reply without a service".into()))?;
            out.push(parse_service(&nest).map_err(|e| IpvsError::Decode(e.to_string()))?);
        }
        Ok(out)
    }

    /// The destinations of one service, with counters and statistics.
    pub fn destinations(
        &mut self,
        s: &Service,
    ) -> Result<Vec<crate::listing::ListedDest>, IpvsError> {
        let data = self.exchange(
            RequestKind::Dump,
            IpvsMessage::new(cmd::GET_DEST, vec![service_attrs(s)]),
        )?;
        let mut out = Vec::with_capacity(data.len());
        for p in data {
            let nest = top_nest(&p, top::DEST)
                .map_err(|e| IpvsError::Decode(e.to_string()))?
                .ok_or(IpvsError::Decode(
                    "destination reply without a destination".into(),
                ))?;
            out.push(parse_dest(&nest, s.key.af()).map_err(|e| IpvsError::Decode(e.to_string()))?);
        }
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
        for s in services {
            let dests = self.destinations(&s.service)?;
            t.services.push(ServiceEntry {
                service: s.service,
                destinations: dests.into_iter().map(|d| d.dest).collect(),
            });
        }
        Ok(t)
    }

    /// Applies operations pipelined; one result per operation, in order.
    pub fn apply_ops(&mut self, ops: &[Operation]) -> Result<Vec<Result<(), OpError>>, IpvsError> {
        let mut results: Vec<Option<Result<(), OpError>>> = vec![None; ops.len()];
        let mut start = 0;
        while start < ops.len() {
            // Build a batch.
            let mut buf = Vec::new();
            let mut seqs = Vec::new();
            let mut i = start;
            let limit = self.transport.max_in_flight().clamp(1, BATCH);
            while i < ops.len() && seqs.len() < limit && buf.len() < BATCH_BYTES {
                let seq = self.next_seq();
                buf.extend(request(
                    self.family_id,
                    seq,
                    RequestKind::Change,
                    op_message(&ops[i]),
                ));
                seqs.push((seq, i));
                i += 1;
            }
            self.transport.send(&buf).map_err(IpvsError::Io)?;
            let mut pending = seqs.len();
            while pending > 0 {
                let data = self.transport.recv().map_err(IpvsError::Io)?;
                for r in parse_replies(&data).map_err(|e| IpvsError::Decode(e.to_string()))? {
                    if let Reply::Ack { seq, errno } = r {
                        if let Some(&(_, idx)) = seqs.iter().find(|(s, _)| *s == seq) {
                            if results[idx].is_none() {
                                pending -= 1;
                            }
                            results[idx] = Some(if errno == 0 {
                                Ok(())
                            } else {
                                Err(OpError {
                                    errno,
                                    message: describe_errno(errno, Some(&ops[idx])),
                                })
                            });
                        }
                    }
                }
            }
            start = i;
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(OpError {
                    errno: 0,
                    message: "no acknowledgement".into(),
                }))
            })
            .collect())
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
                top_nest(&p, top::DAEMON).map_err(|e| IpvsError::Decode(e.to_string()))?
            {
                out.push(parse_daemon(&nest).map_err(|e| IpvsError::Decode(e.to_string()))?);
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
