//! Check sockets with keepalived's connection options: source address and
//! port (`bindto`, `bind_port`), device (`bind_if`, SO_BINDTODEVICE), mark
//! (`fwmark`, SO_MARK), IPv4 and IPv6; connect bounded by a deadline.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::conn::ConnOptions;

fn base_socket(opts: &ConnOptions, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let domain = match opts.target {
        SocketAddr::V4(_) => Domain::IPV4,
        SocketAddr::V6(_) => Domain::IPV6,
    };
    // Non-blocking from the start (SOCK_NONBLOCK): no fcntl calls per check.
    let s = Socket::new(domain, ty.nonblocking(), Some(proto))?;
    if opts.fwmark != 0 {
        s.set_mark(opts.fwmark)?;
    }
    if let Some(dev) = &opts.bind_if {
        s.bind_device(Some(dev.as_bytes()))?;
    }
    if opts.bind_addr.is_some() || opts.bind_port.is_some() {
        let ip = opts.bind_addr.unwrap_or(match opts.target {
            SocketAddr::V4(_) => std::net::IpAddr::from([0u8, 0, 0, 0]),
            SocketAddr::V6(_) => std::net::IpAddr::from([0u16; 8]),
        });
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::new(ip, opts.bind_port.unwrap_or(0)).into())?;
    }
    Ok(s)
}

/// Connects a TCP stream within `timeout`.
pub async fn tcp_connect(opts: &ConnOptions, timeout: Duration) -> io::Result<TcpStream> {
    tcp_connect_from(opts, Instant::now(), timeout).await
}

/// Connects a TCP stream within `timeout` counted from `start` (a time
/// the caller already read: one clock read less per check, which counts
/// where reading the clock is a system call).
pub async fn tcp_connect_from(
    opts: &ConnOptions,
    start: Instant,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let s = base_socket(opts, Type::STREAM, Protocol::TCP)?;
    let std: std::net::TcpStream = s.into();
    let sock = TcpSocket::from_std_stream(std);
    match tokio::time::timeout_at(start + timeout, sock.connect(opts.target)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out after {}", crate::describe::secs(timeout)),
        )),
    }
}

/// A UDP socket with the connection options, connected to the target.
pub async fn udp_connect(opts: &ConnOptions) -> io::Result<tokio::net::UdpSocket> {
    let s = base_socket(opts, Type::DGRAM, Protocol::UDP)?;
    let std: std::net::UdpSocket = s.into();
    let u = tokio::net::UdpSocket::from_std(std)?;
    u.connect(opts.target).await?;
    Ok(u)
}

/// A non-blocking socket of any type/protocol with the connection options
/// applied (bind address/port, device, mark), not connected: e.g. the
/// ICMP datagram socket of PING_CHECK.
pub fn socket_with_opts(opts: &ConnOptions, ty: Type, proto: Protocol) -> io::Result<Socket> {
    base_socket(opts, ty, proto)
}
