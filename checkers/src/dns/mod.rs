//! DNS_CHECK: one UDP query (random ID, RD=1) within connect_timeout.
//!
//! Pass: reply ID matches, QR=1, RCODE=0 (keepalived's rule) **and** (lvsd,
//! stricter) the question is echoed and the answer section holds at least
//! one RR of the requested type for the name (following CNAMEs in the
//! answer). keepalived does not look at the answer count, so an empty
//! NOERROR reply passes there and fails here. A timeout or an ICMP error
//! fails.

pub mod codec;

use std::time::Instant;

use crate::check::{AttemptFuture, Check};
use crate::conn::ConnOptions;
use crate::describe::{io_error, secs};
use crate::outcome::{CheckOutcome, Verdict};
use crate::socket::udp_connect;

pub use codec::{check_reply, encode_query, DnsError, RrType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSpec {
    pub conn: ConnOptions,
    /// `type` (default SOA).
    pub rr_type: RrType,
    /// `name` (default root, "").
    pub name: String,
}

impl DnsSpec {
    /// keepalived defaults: type SOA, name root.
    pub fn new(conn: ConnOptions) -> Self {
        DnsSpec {
            conn,
            rr_type: RrType::Soa,
            name: String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DnsCheck {
    pub spec: DnsSpec,
}

impl DnsCheck {
    pub fn new(spec: DnsSpec) -> Self {
        DnsCheck { spec }
    }

    async fn run(&self) -> Result<(), String> {
        let id: u16 = rand::random();
        let q = encode_query(id, &self.spec.name, self.spec.rr_type).map_err(|e| e.to_string())?;
        let sock = udp_connect(&self.spec.conn)
            .await
            .map_err(|e| io_error(&e))?;
        sock.send(&q).await.map_err(|e| io_error(&e))?;
        let mut buf = vec![0u8; 4096];
        let n = sock.recv(&mut buf).await.map_err(|e| io_error(&e))?;
        check_reply(&buf[..n], id, &self.spec.name, self.spec.rr_type).map_err(|e| e.to_string())
    }
}

impl Check for DnsCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let t = self.spec.conn.connect_timeout;
            let verdict = match tokio::time::timeout(t, self.run()).await {
                Ok(Ok(())) => Verdict::Pass,
                Ok(Err(r)) => Verdict::Fail(format!("{}: {r}", self.describe())),
                Err(_) => {
                    Verdict::Fail(format!("{}: no reply within {}", self.describe(), secs(t)))
                }
            };
            CheckOutcome {
                verdict,
                elapsed: start.elapsed(),
            }
        })
    }

    fn describe(&self) -> String {
        let name = if self.spec.name.is_empty() {
            "."
        } else {
            &self.spec.name
        };
        format!(
            "DNS_CHECK {} {:?} {}",
            self.spec.conn.target, self.spec.rr_type, name
        )
    }

    fn identity(&self) -> String {
        format!("DNS|{:?}", self.spec)
    }
}
