//! The benchmark's target servers, run in a child process (so their CPU is
//! not counted as the checker's): listeners on 127.0.0.x that accept and
//! close (TCP) or answer a minimal HTTP 200 (HTTP). The child prints its
//! addresses, then `READY`, and exits when its stdin closes (the parent
//! ended, however it ended) or after `lifetime`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

async fn answer_http(mut s: TcpStream) {
    let mut buf = [0u8; 1024];
    let mut n = 0;
    // Bounded: at most 1 KiB of request, at most 5 s.
    let read = async {
        while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => return false,
                Ok(k) => n += k,
            }
        }
        true
    };
    if let Ok(true) = tokio::time::timeout(Duration::from_secs(5), read).await {
        let _ = s.write_all(REPLY).await;
    }
    let _ = s.shutdown().await;
}

async fn accept_loop(l: TcpListener, http: bool) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                if http {
                    tokio::spawn(answer_http(s));
                } else {
                    drop(s);
                }
            }
            // EMFILE and the like: back off briefly instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Runs the servers: `addrs` addresses from 127.0.0.2, `ports` listeners
/// each.
pub fn serve(http: bool, addrs: u8, ports: u8, lifetime: Duration) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("server runtime: {e}"))?;
    rt.block_on(async move {
        let mut out = String::new();
        for a in 0..addrs {
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + a));
            for _ in 0..ports {
                let sock = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
                sock.set_reuseaddr(true).map_err(|e| e.to_string())?;
                sock.bind(SocketAddr::new(ip, 0))
                    .map_err(|e| format!("bind {ip}: {e}"))?;
                let l = sock.listen(4096).map_err(|e| e.to_string())?;
                let addr = l.local_addr().map_err(|e| e.to_string())?;
                out.push_str(&format!("{addr}\n"));
                tokio::spawn(accept_loop(l, http));
            }
        }
        out.push_str("READY\n");
        let mut stdout = tokio::io::stdout();
        stdout
            .write_all(out.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stdout.flush().await.map_err(|e| e.to_string())?;
        // Until the parent closes our stdin (or the lifetime ends).
        let mut stdin = tokio::io::stdin();
        let mut b = [0u8; 64];
        let wait_parent = async {
            while let Ok(n) = stdin.read(&mut b).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(lifetime, wait_parent).await;
        Ok(())
    })
}
