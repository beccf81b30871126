//! Facts about the host's interfaces that VRRP needs: index, MAC,
//! primary IPv4 address, IPv6 link-local address, and whether the link is
//! up and running. Read with getifaddrs(3), so they are right inside any
//! network namespace.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: u32,
    pub mac: Option<[u8; 6]>,
    /// Addresses in the order the kernel lists them (primary first).
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
    /// IFF_UP and IFF_RUNNING.
    pub running: bool,
}

impl InterfaceInfo {
    pub fn primary_v4(&self) -> Option<Ipv4Addr> {
        self.ipv4.first().copied()
    }
    pub fn link_local_v6(&self) -> Option<Ipv6Addr> {
        self.ipv6
            .iter()
            .copied()
            .find(|a| (a.segments()[0] & 0xffc0) == 0xfe80)
    }
}

/// The interface's index, or `None` when it does not exist.
pub fn index_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// Everything known about `name`, or `None` when it does not exist.
pub fn lookup(name: &str) -> Option<InterfaceInfo> {
    let index = index_of(name)?;
    let mut info = InterfaceInfo {
        name: name.to_string(),
        index,
        ..Default::default()
    };
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Some(info);
    }
    let mut cur = head;
    let mut steps = 0;
    while !cur.is_null() && steps < 100_000 {
        steps += 1;
        // SAFETY: cur is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let n = unsafe { CStr::from_ptr(ifa.ifa_name) };
        if n.to_bytes() != name.as_bytes() {
            continue;
        }
        let flags = ifa.ifa_flags;
        info.running =
            flags & (libc::IFF_UP as u32) != 0 && flags & (libc::IFF_RUNNING as u32) != 0;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family tells its type.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        match family {
            libc::AF_INET => {
                // SAFETY: family AF_INET means sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                info.ipv4
                    .push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
            libc::AF_INET6 => {
                // SAFETY: family AF_INET6 means sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                info.ipv6.push(Ipv6Addr::from(sin6.sin6_addr.s6_addr));
            }
            libc::AF_PACKET => {
                // SAFETY: family AF_PACKET means sockaddr_ll.
                let ll = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_ll) };
                if ll.sll_halen == 6 {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(&ll.sll_addr[..6]);
                    info.mac = Some(m);
                }
            }
            _ => {}
        }
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    Some(info)
}

/// Whether `addr` is configured on any interface of this host (namespace).
pub fn is_local(addr: IpAddr) -> bool {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: as in `lookup`.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return false;
    }
    let mut found = false;
    let mut cur = head;
    let mut steps = 0;
    while !cur.is_null() && steps < 100_000 && !found {
        steps += 1;
        // SAFETY: list node from getifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: as in `lookup`.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        found = match (family, addr) {
            (libc::AF_INET, IpAddr::V4(a)) => {
                // SAFETY: AF_INET.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)) == a
            }
            (libc::AF_INET6, IpAddr::V6(a)) => {
                // SAFETY: AF_INET6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                Ipv6Addr::from(sin6.sin6_addr.s6_addr) == a
            }
            _ => false,
        };
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_known() {
        let lo = lookup("lo").expect("lo exists");
        assert!(lo.index > 0);
        assert!(lo.ipv4.contains(&Ipv4Addr::LOCALHOST));
        assert!(is_local(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(lookup("no-such-if0").is_none());
    }
}
