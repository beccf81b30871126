//! VRRP raw sockets (IP protocol 112), made async with tokio's `AsyncFd`.
//!
//! - `Receiver`: one per (interface, family): bound to the device, joined
//!   to the VRRP multicast group; delivers every VRRP packet arriving there
//!   (multicast and unicast) with its source, destination and TTL/hop limit.
//!   IPv4 packets come with their IP header (the TTL is checked in user
//!   space: IP_MINTTL does not filter raw sockets); for IPv6 the kernel
//!   verifies the checksum (IPV6_CHECKSUM) and the hop limit comes as a
//!   control message.
//! - `Sender`: one per instance: IPv4 through `IPPROTO_RAW` with our own IP
//!   header (TTL 255, TOS 0xc0, the exact source), multicast loop off;
//!   IPv6 bound to the link-local source, hop limit 255, kernel checksum.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

use super::super::packet::IPPROTO_VRRP;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn raw_socket(family: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned by the OwnedFd.
    let fd = check(unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            proto,
        )
    })?;
    // SAFETY: fd is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: v points to a live T of the given size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            v as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn bind_device(fd: &OwnedFd, ifname: &str) -> io::Result<()> {
    // SAFETY: the name bytes are valid for their length.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            ifname.as_ptr() as *const libc::c_void,
            ifname.len() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn sockaddr_v4(a: Ipv4Addr) -> libc::sockaddr_in {
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut s: libc::sockaddr_in = unsafe { zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_addr.s_addr = u32::from(a).to_be();
    s
}

fn sockaddr_v6(a: Ipv6Addr, scope: u32) -> libc::sockaddr_in6 {
    // SAFETY: all-zero is a valid sockaddr_in6.
    let mut s: libc::sockaddr_in6 = unsafe { zeroed() };
    s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    s.sin6_addr.s6_addr = a.octets();
    s.sin6_scope_id = scope;
    s
}

/// A received VRRP packet.
#[derive(Debug, Clone)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// The VRRP message (IP header removed, trimmed to the IP length).
    pub msg: Vec<u8>,
    /// The kernel verified the checksum (IPv6).
    pub checksum_done: bool,
}

pub struct Receiver {
    fd: AsyncFd<OwnedFd>,
    v6: bool,
}

impl Receiver {
    /// Opens the receive socket for `ifname` (index `ifindex`), joined to
    /// `group` (224.0.0.18 / ff02::12 or the configured group).
    pub fn open(ifname: &str, ifindex: u32, group: IpAddr) -> io::Result<Receiver> {
        let v6 = group.is_ipv6();
        let fd = raw_socket(
            if v6 { libc::AF_INET6 } else { libc::AF_INET },
            libc::c_int::from(IPPROTO_VRRP),
        )?;
        bind_device(&fd, ifname)?;
        match group {
            IpAddr::V4(g) => {
                let m = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from(g).to_be(),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as libc::c_int,
                };
                setopt(&fd, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &m)?;
                setopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, &0i32)?;
            }
            IpAddr::V6(g) => {
                let m = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: g.octets(),
                    },
                    ipv6mr_interface: ifindex,
                };
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &m)?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, &6i32)?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &1i32)?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &1i32)?;
            }
        }
        // SAFETY: `fd` is a valid open socket, owned by the AsyncFd for its
        // whole lifetime.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(Receiver { fd, v6 })
    }

    /// The next packet (or a decoding error of the carrier, as `Err`).
    pub async fn recv(&self) -> io::Result<Result<Received, super::super::packet::DropReason>> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| self.recv_once(fd.get_ref())) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    fn recv_once(
        &self,
        fd: &OwnedFd,
    ) -> io::Result<Result<Received, super::super::packet::DropReason>> {
        let mut buf = [0u8; 2048];
        if !self.v6 {
            // SAFETY: buf is valid for its length.
            let n = check(unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            } as libc::c_int)? as usize;
            return Ok(
                super::super::packet::split_ipv4(&buf[..n]).map(|(info, msg)| Received {
                    src: IpAddr::V4(info.src),
                    dst: IpAddr::V4(info.dst),
                    ttl: info.ttl,
                    msg: msg.to_vec(),
                    checksum_done: false,
                }),
            );
        }
        // SAFETY: zeroed structs are valid; pointers below stay in scope.
        let mut from: libc::sockaddr_in6 = unsafe { zeroed() };
        let mut cbuf = [0u64; 32];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = &mut from as *mut _ as *mut libc::c_void;
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = size_of::<[u64; 32]>();
        // SAFETY: msg describes live buffers.
        let n =
            check(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) } as libc::c_int)? as usize;
        let mut hop = 0u8;
        let mut dst = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        // SAFETY: walking the control messages the kernel wrote into cbuf.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            let mut steps = 0;
            while !c.is_null() && steps < 16 {
                steps += 1;
                let h = &*c;
                if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT {
                    let v = *(libc::CMSG_DATA(c) as *const libc::c_int);
                    hop = v.clamp(0, 255) as u8;
                } else if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_PKTINFO {
                    let pi = &*(libc::CMSG_DATA(c) as *const libc::in6_pktinfo);
                    dst = IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(Ok(Received {
            src: IpAddr::V6(Ipv6Addr::from(from.sin6_addr.s6_addr)),
            dst,
            ttl: hop,
            msg: buf[..n].to_vec(),
            checksum_done: true,
        }))
    }
}

/// Builds the IPv4 header keepalived sends: TOS 0xc0, DF clear, protocol
/// 112 (the kernel fills the header checksum and the id).
pub fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload_len: usize) -> [u8; 20] {
    let total = (20 + payload_len) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[1] = 0xc0;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[8] = ttl;
    h[9] = IPPROTO_VRRP;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    h
}

pub struct Sender {
    fd: OwnedFd,
    src: IpAddr,
    ifindex: u32,
}

impl Sender {
    /// Opens the send socket on `ifname` with source address `src` (the
    /// interface's primary IPv4 / link-local IPv6, or the configured one).
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr) -> io::Result<Sender> {
        let fd = match src {
            IpAddr::V4(_) => {
                let fd = raw_socket(libc::AF_INET, libc::IPPROTO_RAW)?;
                let m = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr { s_addr: 0 },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as libc::c_int,
                };
                setopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &m)?;
                setopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32)?;
                fd
            }
            IpAddr::V6(a) => {
                let fd = raw_socket(libc::AF_INET6, libc::c_int::from(IPPROTO_VRRP))?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, &6i32)?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &255i32)?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &255i32)?;
                setopt(
                    &fd,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_MULTICAST_IF,
                    &(ifindex as i32),
                )?;
                setopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &0i32)?;
                setopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &256i32)?;
                let sa = sockaddr_v6(a, ifindex);
                // SAFETY: sa is a valid sockaddr_in6.
                check(unsafe {
                    libc::bind(
                        fd.as_raw_fd(),
                        &sa as *const _ as *const libc::sockaddr,
                        size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                })?;
                fd
            }
        };
        bind_device(&fd, ifname)?;
        Ok(Sender { fd, src, ifindex })
    }

    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// Sends one VRRP message to `dst` with `ttl` (IPv4; IPv6 always 255).
    pub fn send(&self, msg: &[u8], dst: IpAddr, ttl: u8) -> io::Result<()> {
        match (self.src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut pkt = Vec::with_capacity(20 + msg.len());
                pkt.extend_from_slice(&ipv4_header(s, d, ttl, msg.len()));
                pkt.extend_from_slice(msg);
                let sa = sockaddr_v4(d);
                // SAFETY: pkt and sa are valid for the call.
                check(unsafe {
                    libc::sendto(
                        self.fd.as_raw_fd(),
                        pkt.as_ptr() as *const libc::c_void,
                        pkt.len(),
                        libc::MSG_DONTWAIT,
                        &sa as *const _ as *const libc::sockaddr,
                        size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                } as libc::c_int)?;
                Ok(())
            }
            (IpAddr::V6(_), IpAddr::V6(d)) => {
                let mut m = msg.to_vec();
                if m.len() >= 8 {
                    // The kernel computes the checksum (IPV6_CHECKSUM).
                    m[6] = 0;
                    m[7] = 0;
                }
                let scope = if (d.segments()[0] & 0xffc0) == 0xfe80 || d.is_multicast() {
                    self.ifindex
                } else {
                    0
                };
                let sa = sockaddr_v6(d, scope);
                // SAFETY: m and sa are valid for the call.
                check(unsafe {
                    libc::sendto(
                        self.fd.as_raw_fd(),
                        m.as_ptr() as *const libc::c_void,
                        m.len(),
                        libc::MSG_DONTWAIT,
                        &sa as *const _ as *const libc::sockaddr,
                        size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                } as libc::c_int)?;
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send from {} to {dst}", self.src),
            )),
        }
    }
}
