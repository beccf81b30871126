//! The metrics HTTP server: HTTP/1 (hyper) on the one address it is given;
//! `GET /metrics` (or `/`) answers the exposition text, other paths 404,
//! other methods 405. Connections are bounded in number and time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::exposition::CONTENT_TYPE;
use crate::control::server::Command;

/// Most scrapes served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Longest a connection may stay open.
pub const CONNECTION_LIMIT: Duration = Duration::from_secs(60);

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

fn reply(status: StatusCode, ctype: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = ctype.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    req: Request<Incoming>,
    commands: mpsc::Sender<Command>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET\n".into(),
        ));
    }
    if !matches!(req.uri().path(), "/metrics" | "/") {
        return Ok(reply(StatusCode::NOT_FOUND, PLAIN, "try /metrics\n".into()));
    }
    let (tx, rx) = oneshot::channel();
    if commands.send(Command::Metrics { reply: tx }).await.is_err() {
        return Ok(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            PLAIN,
            "lvsd is shutting down\n".into(),
        ));
    }
    Ok(match rx.await {
        Ok(text) => reply(StatusCode::OK, CONTENT_TYPE, text),
        Err(_) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            PLAIN,
            "lvsd is shutting down\n".into(),
        ),
    })
}

/// Serves scrapes until the command channel closes.
pub async fn serve(listener: TcpListener, commands: mpsc::Sender<Command>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
            _ = commands.closed() => return,
        };
        let commands = commands.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, commands.clone()));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(CONNECTION_LIMIT, conn).await;
            drop(permit);
        });
    }
}
