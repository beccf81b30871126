//! UDP_CHECK: send a payload on a connected UDP socket and judge the reply.
//!
//! With `require_reply`: a reply matching the pattern (and within the
//! min/max length) within connect_timeout passes; silence fails.
//! Without it (keepalived semantics): silence passes; only an ICMP error
//! (ECONNREFUSED etc. reported on the connected socket) fails; any reply
//! passes if its length is within min/max.

pub mod pattern;

use std::time::Instant;

use crate::check::{AttemptFuture, Check};
use crate::conn::ConnOptions;
use crate::describe::{io_error, secs};
use crate::outcome::{CheckOutcome, Verdict};
use crate::socket::udp_connect;

pub use pattern::{parse_hex, HexError, ReplyPattern};

/// Default payload when none is configured (a filler, like keepalived).
pub const DEFAULT_PAYLOAD: &[u8] = b"keepalived UDP_CHECK lvsd filler\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSpec {
    pub conn: ConnOptions,
    /// `payload` bytes (see `parse_hex`); `None` = DEFAULT_PAYLOAD.
    pub payload: Option<Vec<u8>>,
    /// `require_reply` (see `ReplyPattern::parse`).
    pub require_reply: Option<ReplyPattern>,
    /// `min_reply_length` (default 0).
    pub min_reply_length: usize,
    /// `max_reply_length` (default 255).
    pub max_reply_length: usize,
}

impl UdpSpec {
    pub fn new(conn: ConnOptions) -> Self {
        UdpSpec {
            conn,
            payload: None,
            require_reply: None,
            min_reply_length: 0,
            max_reply_length: 255,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UdpCheck {
    pub spec: UdpSpec,
}

impl UdpCheck {
    pub fn new(spec: UdpSpec) -> Self {
        UdpCheck { spec }
    }

    async fn run(&self) -> Result<(), String> {
        let t = self.spec.conn.connect_timeout;
        let sock = udp_connect(&self.spec.conn)
            .await
            .map_err(|e| io_error(&e))?;
        let payload = self.spec.payload.as_deref().unwrap_or(DEFAULT_PAYLOAD);
        sock.send(payload).await.map_err(|e| io_error(&e))?;
        let mut buf = vec![0u8; self.spec.max_reply_length.max(1) + 1];
        match tokio::time::timeout(t, sock.recv(&mut buf)).await {
            Err(_) => match self.spec.require_reply {
                Some(_) => Err(format!("no reply within {}", secs(t))),
                None => Ok(()),
            },
            Ok(Err(e)) => Err(io_error(&e)),
            Ok(Ok(n)) => {
                let reply = &buf[..n];
                if n < self.spec.min_reply_length || n > self.spec.max_reply_length {
                    return Err(format!(
                        "reply length {n} outside {}..={}",
                        self.spec.min_reply_length, self.spec.max_reply_length
                    ));
                }
                match &self.spec.require_reply {
                    Some(p) if !p.matches(reply) => {
                        Err("reply does not match require_reply".into())
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

impl Check for UdpCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let verdict = match self.run().await {
                Ok(()) => Verdict::Pass,
                Err(r) => Verdict::Fail(format!("{}: {r}", self.describe())),
            };
            CheckOutcome {
                verdict,
                elapsed: start.elapsed(),
            }
        })
    }

    fn describe(&self) -> String {
        format!("UDP_CHECK {}", self.spec.conn.target)
    }

    fn identity(&self) -> String {
        format!("UDP|{:?}", self.spec)
    }
}
