//! The control socket's I/O: accepts connections, reads request lines
//! (bounded length), checks the peer's right to change state, forwards
//! requests to the daemon loop as `Command`s and writes the answers;
//! `watch` subscribes to the transition broadcast and streams events until
//! the client hangs up.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, oneshot, Semaphore};

use super::access::{self, BoundSocket};
use super::protocol::{Event, Request, Response};

/// Longest request line accepted.
pub const MAX_LINE: u64 = 64 * 1024;
/// Most connections served at once (others wait to be accepted).
pub const MAX_CONNECTIONS: usize = 64;

/// What the socket (and the metrics endpoint) ask of the daemon loop.
#[derive(Debug)]
pub enum Command {
    /// A request; the answer goes to `reply` (none for SIGHUP's reload).
    Request {
        req: Request,
        reply: Option<oneshot::Sender<Response>>,
    },
    /// The Prometheus text for a scrape.
    Metrics { reply: oneshot::Sender<String> },
}

/// Serves the socket until the command channel closes.
pub async fn serve(
    socket: BoundSocket,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            r = socket.listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
            _ = commands.closed() => return,
        };
        let (commands, events, owner) = (commands.clone(), events.clone(), socket.owner_uid);
        tokio::spawn(async move {
            connection(stream, commands, events, owner).await;
            drop(permit);
        });
    }
}

async fn write(w: &mut (impl AsyncWriteExt + Unpin), r: &Response) -> bool {
    w.write_all(r.to_line().as_bytes()).await.is_ok()
}

async fn connection(
    stream: UnixStream,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    owner: u32,
) {
    let peer_uid = stream.peer_cred().map(|c| c.uid()).ok();
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        match (&mut rd).take(MAX_LINE).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") && line.len() as u64 >= MAX_LINE {
            let _ = write(&mut wr, &Response::error("request line too long")).await;
            return;
        }
        let req = match std::str::from_utf8(&line)
            .map_err(|e| format!("bad request: {e}"))
            .and_then(Request::parse)
        {
            Ok(r) => r,
            Err(e) => {
                if !write(&mut wr, &Response::error(e)).await {
                    return;
                }
                continue;
            }
        };
        if !req.is_read_only() && !peer_uid.is_some_and(|u| access::may_change(u, owner)) {
            let msg = format!(
                "permission denied: state-changing requests need uid 0 or {owner} (you are {})",
                peer_uid.map_or("unknown".to_string(), |u| u.to_string())
            );
            if !write(&mut wr, &Response::error(msg)).await {
                return;
            }
            continue;
        }
        if req == Request::Watch {
            watch(&mut rd, &mut wr, events.subscribe()).await;
            return;
        }
        let (tx, rx) = oneshot::channel();
        let sent = commands
            .send(Command::Request {
                req,
                reply: Some(tx),
            })
            .await;
        let resp = match (sent, rx.await) {
            (Ok(()), Ok(r)) => r,
            _ => Response::error("lvsd is shutting down"),
        };
        if !write(&mut wr, &resp).await {
            return;
        }
    }
}

async fn watch(
    rd: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    wr: &mut tokio::net::unix::OwnedWriteHalf,
    mut events: broadcast::Receiver<Event>,
) {
    if !write(wr, &Response::Watching).await {
        return;
    }
    let mut sink = [0u8; 512];
    loop {
        tokio::select! {
            ev = events.recv() => {
                let r = match ev {
                    Ok(e) => Response::Event(e),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        Response::error(format!("watch fell behind: {n} events lost"))
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if !write(wr, &r).await {
                    return;
                }
            }
            // Anything the client sends while watching is ignored; EOF ends.
            n = rd.read(&mut sink) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}
