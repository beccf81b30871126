//! Announcing VIPs on the link: gratuitous ARP (an ARP request with
//! sender = target = VIP, as keepalived sends it) and unsolicited neighbour
//! advertisements (Override flag, target link-layer option), built as
//! Ethernet frames (pure) and sent through an AF_PACKET socket.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::super::packet::{fold, ones_sum};

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// The gratuitous ARP frame for `vip` from `mac`.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]); // Ethernet, IPv4, request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&vip.octets());
    f.resize(60, 0);
    f
}

fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, body: &[u8]) -> u16 {
    let len = (body.len() as u32).to_be_bytes();
    let sum = ones_sum(&[&src.octets(), &dst.octets(), &len, &[0, 0, 0, 58], body]);
    fold(sum)
}

/// The unsolicited neighbour advertisement for `vip` from `mac` to all
/// nodes (ff02::1), hop limit 255, Override set, Router if `router`.
pub fn unsolicited_na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8> {
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut icmp = vec![136u8, 0, 0, 0];
    let flags: u8 = 0x20 | if router { 0x80 } else { 0 };
    icmp.extend_from_slice(&[flags, 0, 0, 0]);
    icmp.extend_from_slice(&vip.octets());
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&mac);
    let c = icmpv6_checksum(vip, dst, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.push(58);
    f.push(255);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&icmp);
    f
}

/// Spacing of announcements per interface and family
/// (`vrrp_garp_interval`, `vrrp_gna_interval`), pure.
#[derive(Debug, Default)]
pub struct Pacer {
    last: std::collections::HashMap<(u32, bool), std::time::Instant>,
}

impl Pacer {
    /// When the next frame for (`ifindex`, `v6`) may leave, at or after
    /// `now`, `interval` after the previous one; records it.
    pub fn slot(
        &mut self,
        ifindex: u32,
        v6: bool,
        now: std::time::Instant,
        interval: std::time::Duration,
    ) -> std::time::Instant {
        let at = match self.last.get(&(ifindex, v6)) {
            Some(prev) if !interval.is_zero() => now.max(*prev + interval),
            _ => now,
        };
        self.last.insert((ifindex, v6), at);
        at
    }
}

/// A queue sending announcement frames in order, paced per interface:
/// GARPs `garp_interval` apart, NAs `gna_interval` apart.
#[derive(Clone)]
pub struct AnnounceQueue {
    tx: tokio::sync::mpsc::UnboundedSender<(u32, bool, Vec<u8>)>,
}

impl AnnounceQueue {
    /// Starts the sending task; `errors` receives failures.
    pub fn start(
        announcer: Announcer,
        garp_interval: std::time::Duration,
        gna_interval: std::time::Duration,
        errors: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> AnnounceQueue {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u32, bool, Vec<u8>)>();
        tokio::spawn(async move {
            let mut pacer = Pacer::default();
            while let Some((ifindex, v6, frame)) = rx.recv().await {
                let interval = if v6 { gna_interval } else { garp_interval };
                let at = pacer.slot(ifindex, v6, std::time::Instant::now(), interval);
                tokio::time::sleep_until(at.into()).await;
                if let Err(e) = announcer.send(ifindex, &frame) {
                    let _ = errors.send(format!("cannot send an announcement: {e}"));
                }
            }
        });
        AnnounceQueue { tx }
    }

    pub fn send(&self, ifindex: u32, v6: bool, frame: Vec<u8>) {
        let _ = self.tx.send((ifindex, v6, frame));
    }
}

/// An AF_PACKET socket for sending announcement frames.
pub struct Announcer {
    fd: OwnedFd,
}

impl Announcer {
    pub fn open() -> io::Result<Announcer> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                0, // send only: receive nothing
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh valid fd.
        Ok(Announcer {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends `frame` (a full Ethernet frame) out of interface `ifindex`.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "short frame"));
        }
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sa: libc::sockaddr_ll = unsafe { zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        sa.sll_ifindex = ifindex as i32;
        sa.sll_halen = 6;
        sa.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and sa are valid for the call.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                libc::MSG_DONTWAIT,
                &sa as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_per_interface_and_family() {
        use std::time::{Duration, Instant};
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut p = Pacer::default();
        assert_eq!(p.slot(2, false, t, ms(100)), t);
        assert_eq!(p.slot(2, false, t, ms(100)), t + ms(100));
        assert_eq!(p.slot(2, false, t, ms(100)), t + ms(200));
        // Other interface, other family: their own spacing.
        assert_eq!(p.slot(3, false, t, ms(100)), t);
        assert_eq!(p.slot(2, true, t, ms(50)), t);
        // Later than the spacing: at once.
        assert_eq!(p.slot(2, false, t + ms(500), ms(100)), t + ms(500));
        // No interval: no spacing.
        assert_eq!(p.slot(4, false, t, Duration::ZERO), t);
        assert_eq!(p.slot(4, false, t, Duration::ZERO), t);
    }

    #[test]
    fn garp_layout() {
        let mac = [2, 0, 0, 0, 0, 1];
        let f = garp_frame(mac, Ipv4Addr::new(10, 77, 0, 100));
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1]); // request
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &[10, 77, 0, 100]);
        assert_eq!(&f[38..42], &[10, 77, 0, 100]);
    }

    #[test]
    fn na_checksum_verifies() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let f = unsolicited_na_frame([2, 0, 0, 0, 0, 1], vip, false);
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4], 0x20);
        // Summing with the checksum in place gives zero.
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        let mut with = icmp.to_vec();
        let c = u16::from_be_bytes([with[2], with[3]]);
        with[2] = 0;
        with[3] = 0;
        assert_eq!(icmpv6_checksum(vip, dst, &with), c);
        assert_eq!(f[21], 255);
    }
}
