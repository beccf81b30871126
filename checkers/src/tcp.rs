//! TCP_CHECK: up when a connection completes within connect_timeout.

use tokio::time::Instant;

use crate::check::{AttemptFuture, Check};
use crate::conn::ConnOptions;
use crate::describe::io_error;
use crate::outcome::{CheckOutcome, Verdict};
use crate::socket::tcp_connect_from;

#[derive(Debug, Clone)]
pub struct TcpCheck {
    pub conn: ConnOptions,
}

impl Check for TcpCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let verdict = match tcp_connect_from(&self.conn, start, self.conn.connect_timeout).await
            {
                Ok(_) => Verdict::Pass,
                Err(e) => Verdict::Fail(format!(
                    "{}: connect to {}: {}",
                    self.describe(),
                    self.conn.target,
                    io_error(&e)
                )),
            };
            CheckOutcome {
                verdict,
                elapsed: start.elapsed(),
            }
        })
    }

    fn describe(&self) -> String {
        format!("TCP_CHECK {}", self.conn.target)
    }

    fn identity(&self) -> String {
        format!("TCP|{}", self.conn.identity())
    }
}
