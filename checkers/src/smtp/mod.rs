//! SMTP_CHECK: banner 220 (multi-line `220-` accepted, unlike keepalived),
//! `HELO <helo_name>` → 250 (multi-line accepted), `QUIT`. The whole
//! attempt (connect included) runs under connect_timeout as one deadline.

pub mod reply;

use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::check::{AttemptFuture, Check};
use crate::conn::ConnOptions;
use crate::describe::{io_error, secs};
use crate::outcome::{CheckOutcome, Verdict};
use crate::socket::tcp_connect;

pub use reply::{parse_line, ReplyLine};

/// keepalived's default `helo_name`.
pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";
/// Longest reply line and most lines per reply accepted.
const MAX_LINE: usize = 4096;
const MAX_LINES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSpec {
    pub conn: ConnOptions,
    /// `helo_name`; `None` = DEFAULT_HELO.
    pub helo_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SmtpCheck {
    pub spec: SmtpSpec,
}

impl SmtpCheck {
    pub fn new(spec: SmtpSpec) -> Self {
        SmtpCheck { spec }
    }

    fn helo(&self) -> &str {
        self.spec.helo_name.as_deref().unwrap_or(DEFAULT_HELO)
    }

    async fn session(&self) -> Result<(), String> {
        let t = self.spec.conn.connect_timeout;
        let stream = tcp_connect(&self.spec.conn, t)
            .await
            .map_err(|e| format!("connect: {}", io_error(&e)))?;
        let mut rd = BufReader::new(stream);
        expect(&mut rd, "banner", 220).await?;
        let helo = format!("HELO {}\r\n", self.helo());
        rd.get_mut()
            .write_all(helo.as_bytes())
            .await
            .map_err(|e| format!("HELO: {}", io_error(&e)))?;
        expect(&mut rd, "HELO", 250).await?;
        // QUIT: any answer (or none) is fine; errors ignored.
        let _ = rd.get_mut().write_all(b"QUIT\r\n").await;
        let mut line = String::new();
        let _ = rd.read_line(&mut line).await;
        Ok(())
    }
}

/// Reads one reply (all its lines) and checks the final code.
async fn expect(rd: &mut BufReader<TcpStream>, stage: &str, want: u16) -> Result<(), String> {
    for _ in 0..MAX_LINES {
        let mut buf = Vec::new();
        let n = (&mut *rd)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| format!("{stage}: {}", io_error(&e)))?;
        if n == 0 {
            return Err(format!("{stage}: connection closed"));
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\r', '\n']);
        let parsed =
            parse_line(line).ok_or_else(|| format!("{stage}: bad reply line {:?}", clip(line)))?;
        if parsed.last {
            if parsed.code != want {
                return Err(format!("{stage} {}", clip(line)));
            }
            return Ok(());
        }
    }
    Err(format!("{stage}: more than {MAX_LINES} reply lines"))
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect()
}

impl Check for SmtpCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let t = self.spec.conn.connect_timeout;
            let verdict = match tokio::time::timeout(t, self.session()).await {
                Ok(Ok(())) => Verdict::Pass,
                Ok(Err(r)) => Verdict::Fail(format!("SMTP {}: {r}", self.spec.conn.target)),
                Err(_) => Verdict::Fail(format!(
                    "SMTP {}: timed out after {}",
                    self.spec.conn.target,
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
        format!("SMTP_CHECK {}", self.spec.conn.target)
    }

    fn identity(&self) -> String {
        format!("SMTP|{:?}|{}", self.spec.conn, self.helo())
    }
}
