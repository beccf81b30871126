//! PING_CHECK: one ICMP/ICMPv6 echo on an unprivileged datagram socket
//! (`SOCK_DGRAM`, `IPPROTO_ICMP[V6]`), reply matched by id and sequence,
//! within connect_timeout.
//!
//! If the kernel refuses the datagram socket because the process's group is
//! outside `net.ipv4.ping_group_range`, a raw ICMP socket is used instead
//! when the process may (CAP_NET_RAW, as the daemon normally runs); only
//! when both are refused does the failure name the sysctl. lvsd never
//! rewrites the sysctl on its own (keepalived does); `widen_ping_group_range`
//! is an explicit helper for a daemon configured to.

pub mod packet;

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use socket2::{Protocol, Type};

use crate::check::{AttemptFuture, Check};
use crate::conn::ConnOptions;
use crate::describe::{io_error, secs};
use crate::outcome::{CheckOutcome, Verdict};
use crate::socket::socket_with_opts;

pub use packet::{echo_request, parse_echo_reply, EchoReply};

pub const PING_GROUP_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingSpec {
    /// The target port is ignored.
    pub conn: ConnOptions,
}

#[derive(Debug, Clone)]
pub struct PingCheck {
    pub spec: PingSpec,
}

impl PingCheck {
    pub fn new(spec: PingSpec) -> Self {
        PingCheck { spec }
    }

    async fn run(&self) -> Result<(), String> {
        let v6 = self.spec.conn.target.is_ipv6();
        let proto = if v6 {
            Protocol::ICMPV6
        } else {
            Protocol::ICMPV4
        };
        let refused =
            |e: &io::Error| matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM));
        let (s, raw) = match socket_with_opts(&self.spec.conn, Type::DGRAM, proto) {
            Ok(s) => (s, false),
            Err(e) if refused(&e) => match socket_with_opts(&self.spec.conn, Type::RAW, proto) {
                Ok(s) => (s, true),
                Err(_) => {
                    return Err(format!(
                        "cannot create an ICMP datagram socket ({e}): this process's group is \
                         outside net.ipv4.ping_group_range ({PING_GROUP_RANGE}) and it may not \
                         open raw sockets"
                    ))
                }
            },
            Err(e) => return Err(format!("ICMP socket: {}", io_error(&e))),
        };
        let mut dst = self.spec.conn.target;
        dst.set_port(0);
        s.connect(&dst.into()).map_err(|e| io_error(&e))?;
        let id = if raw {
            rand::random::<u16>()
        } else {
            match s.local_addr().ok().and_then(|a| a.as_socket()) {
                Some(SocketAddr::V4(a)) => a.port(),
                Some(SocketAddr::V6(a)) => a.port(),
                None => 0,
            }
        };
        let std: std::net::UdpSocket = s.into();
        let sock = tokio::net::UdpSocket::from_std(std).map_err(|e| io_error(&e))?;
        let seq: u16 = rand::random();
        let token: u64 = rand::random();
        let req = echo_request(v6, id, seq, &token.to_be_bytes());
        sock.send(&req).await.map_err(|e| io_error(&e))?;
        let mut buf = [0u8; 1500];
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| io_error(&e))?;
            // Raw IPv4 sockets deliver the IP header too.
            let body = if raw && !v6 && n >= 20 {
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                &buf[ihl.min(n)..n]
            } else {
                &buf[..n]
            };
            if let Some(r) = parse_echo_reply(v6, body) {
                // the kernel rewrites the id to the socket's port; accept it
                // or an id of 0 (before bind) as ours.
                if r.seq == seq && (r.id == id || id == 0) && r.payload == token.to_be_bytes() {
                    return Ok(());
                }
            }
        }
    }
}

impl Check for PingCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let t = self.spec.conn.connect_timeout;
            let verdict = match tokio::time::timeout(t, self.run()).await {
                Ok(Ok(())) => Verdict::Pass,
                Ok(Err(r)) => Verdict::Fail(format!("{}: {r}", self.describe())),
                Err(_) => Verdict::Fail(format!(
                    "{}: no echo reply within {}",
                    self.describe(),
                    secs(t)
                )),
            };
            CheckOutcome {
                verdict,
                elapsed: start.elapsed(),
            }
        })
    }

    fn describe(&self) -> String {
        format!("PING_CHECK {}", self.spec.conn.target.ip())
    }

    fn identity(&self) -> String {
        format!("PING|{:?}", self.spec)
    }
}

/// Reads `net.ipv4.ping_group_range` as (low, high).
pub fn read_ping_group_range() -> io::Result<(u32, u32)> {
    let s = std::fs::read_to_string(PING_GROUP_RANGE)?;
    let mut it = s.split_whitespace().map(str::parse::<u32>);
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) => Ok((lo, hi)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad ping_group_range",
        )),
    }
}

/// Explicitly widens `net.ipv4.ping_group_range` so that `gid` may open
/// ICMP datagram sockets. Returns the previous range (for restoring), or
/// `None` when `gid` was already allowed and nothing was written.
pub fn widen_ping_group_range(gid: u32) -> io::Result<Option<(u32, u32)>> {
    let (lo, hi) = read_ping_group_range()?;
    if lo <= gid && gid <= hi {
        return Ok(None);
    }
    let (nlo, nhi) = if lo > hi {
        (gid, gid)
    } else {
        (lo.min(gid), hi.max(gid))
    };
    std::fs::write(PING_GROUP_RANGE, format!("{nlo} {nhi}\n"))?;
    Ok(Some((lo, hi)))
}
