//! Connection hand-over at a graceful stop. While a Master resigns
//! (priority 0 sent, VIPs and forwarding kept until the new master is
//! heard), a thread copies the kernel's IPVS connection table to the
//! backups in the kernel sync protocol: at once, then every 5 ms (less
//! often for a table that takes longer to copy), and once more at the
//! end. The kernel's own sync daemon may hold a new connection for up to
//! 2 s before sending it and drops what it holds when stopped, so without
//! this the new master would reset connections opened in the last seconds
//! before the switch when their next packet reaches it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lvsd_ipvs::netlink::client::IpvsClient;
use lvsd_ipvs::netlink::convert::SyncDaemon;
use lvsd_ipvs::sync::{conn_table, to_sync, DestIndex, SyncConn, SyncEncoder};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The kernel sync daemon's defaults.
const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
const DEFAULT_PORT: u16 = 8848;
/// Time between two copies of the table. A connection the old master
/// opens between two copies is unknown to the new master for that long:
/// with NAT, a real server's reply that reaches the new master first is
/// lost (and the client resends its SYN a second later).
const INTERVAL: Duration = Duration::from_millis(5);
/// No hand-over lasts longer than this, whatever happens to the engine.
const MAX_DURATION: Duration = Duration::from_secs(60);

/// What a hand-over did, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HandoverReport {
    pub rounds: u32,
    /// Entries in the last copy.
    pub entries: usize,
    pub messages: u64,
    pub skipped: usize,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl std::fmt::Display for HandoverReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connection hand-over: {} copies of the IPVS connection table ({} entries in the last, {} messages sent",
            self.rounds, self.entries, self.messages
        )?;
        if self.skipped > 0 {
            write!(f, ", {} entries not carried", self.skipped)?;
        }
        if self.errors > 0 {
            write!(
                f,
                ", {} send errors, first: {}",
                self.errors,
                self.first_error.as_deref().unwrap_or("?")
            )?;
        }
        write!(f, ")")
    }
}

/// A running hand-over; `finish` sends the last copy and reports.
pub struct ConnHandover {
    last: mpsc::Sender<()>,
    report: mpsc::Receiver<HandoverReport>,
}

impl ConnHandover {
    /// Opens the sending socket (errors are returned here) and starts
    /// copying at once.
    pub fn start(d: &SyncDaemon) -> Result<Self, String> {
        let (sock, encoder) = open(d)?;
        let (last_tx, last_rx) = mpsc::channel();
        let (report_tx, report_rx) = mpsc::channel();
        thread::Builder::new()
            .name("lvsd-handover".into())
            .spawn(move || {
                let r = run(&sock, encoder, &last_rx);
                let _ = report_tx.send(r);
            })
            .map_err(|e| format!("connection hand-over: cannot start a thread: {e}"))?;
        Ok(ConnHandover {
            last: last_tx,
            report: report_rx,
        })
    }

    /// Sends the last copy and waits for it at most `wait`.
    pub fn finish(self, wait: Duration) -> String {
        let _ = self.last.send(());
        match self.report.recv_timeout(wait) {
            Ok(r) => r.to_string(),
            Err(_) => format!(
                "connection hand-over: the last copy did not finish within {} ms",
                wait.as_millis()
            ),
        }
    }
}

fn open(d: &SyncDaemon) -> Result<(Socket, SyncEncoder), String> {
    let err = |what: &str, e: std::io::Error| {
        format!("connection hand-over on {}: {what}: {e}", d.mcast_ifn)
    };
    let group = d.group.unwrap_or(IpAddr::V4(DEFAULT_GROUP));
    let port = d.port.unwrap_or(DEFAULT_PORT);
    let ttl = u32::from(d.ttl.unwrap_or(1));
    let domain = if group.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock =
        Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| err("socket", e))?;
    sock.bind_device(Some(d.mcast_ifn.as_bytes()))
        .map_err(|e| err("bind to the interface", e))?;
    let dest = match group {
        IpAddr::V4(g) => {
            sock.set_multicast_loop_v4(false)
                .and_then(|_| sock.set_multicast_ttl_v4(ttl))
                .map_err(|e| err("multicast options", e))?;
            SocketAddr::new(IpAddr::V4(g), port)
        }
        IpAddr::V6(g) => {
            let index = crate::vrrp::net::iface::index_of(&d.mcast_ifn)
                .ok_or_else(|| format!("connection hand-over: no interface {}", d.mcast_ifn))?;
            sock.set_multicast_if_v6(index)
                .and_then(|_| sock.set_multicast_loop_v6(false))
                .and_then(|_| sock.set_multicast_hops_v6(ttl))
                .map_err(|e| err("multicast options", e))?;
            SocketAddr::V6(SocketAddrV6::new(g, port, 0, index))
        }
    };
    sock.connect(&SockAddr::from(dest))
        .map_err(|e| err("connect", e))?;
    // What a backup reads per message: its MTU (at least 1500) less the IP
    // and UDP headers, or the configured maxlen.
    let headers = if group.is_ipv4() { 28 } else { 48 };
    let maxlen = d
        .maxlen
        .map(usize::from)
        .unwrap_or(1500 - headers)
        .min(1500 - headers);
    let encoder = SyncEncoder::new(u8::try_from(d.sync_id).unwrap_or(0), maxlen);
    Ok((sock, encoder))
}

fn run(sock: &Socket, encoder: SyncEncoder, last: &mpsc::Receiver<()>) -> HandoverReport {
    let started = Instant::now();
    let mut report = HandoverReport::default();
    let mut index: Option<DestIndex> = None;
    let mut wait = Duration::ZERO;
    loop {
        let is_last = match last.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
            Err(mpsc::RecvTimeoutError::Timeout) => started.elapsed() >= MAX_DURATION,
        };
        let t = Instant::now();
        copy_once(sock, encoder, index.as_ref(), &mut report);
        if is_last {
            return report;
        }
        // The first copy goes out before the (possibly slow) table dump;
        // later ones carry forwarding methods and marks from it.
        if index.is_none() {
            index = IpvsClient::open()
                .and_then(|mut c| c.table())
                .ok()
                .map(|t| DestIndex::new(&t));
        }
        // A large table is copied less often: at most a third of the time
        // goes to copying.
        wait = INTERVAL.max(t.elapsed() * 2);
    }
}

fn copy_once(
    sock: &Socket,
    encoder: SyncEncoder,
    index: Option<&DestIndex>,
    r: &mut HandoverReport,
) {
    r.rounds += 1;
    let table = match conn_table::read() {
        Ok(t) => t,
        Err(e) => {
            note_error(r, format!("cannot read {}: {e}", conn_table::PROC_PATH));
            return;
        }
    };
    let entries: Vec<SyncConn> = table
        .conns
        .iter()
        .filter_map(|c| to_sync(c, index))
        .collect();
    r.skipped = table.skipped + (table.conns.len() - entries.len());
    r.entries = entries.len();
    for m in encoder.encode(&entries) {
        let mut tries = 0;
        loop {
            match sock.send(&m) {
                Ok(_) => {
                    r.messages += 1;
                    break;
                }
                Err(e)
                    if tries < 3
                        && matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOBUFS)) =>
                {
                    tries += 1;
                    thread::sleep(Duration::from_millis(1));
                }
                Err(e) => {
                    note_error(r, e.to_string());
                    break;
                }
            }
        }
    }
}

fn note_error(r: &mut HandoverReport, e: String) {
    r.errors += 1;
    if r.first_error.is_none() {
        r.first_error = Some(e);
    }
}
