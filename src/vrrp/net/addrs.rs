//! Adding and removing virtual addresses over rtnetlink (`ip addr add/del`
//! done in-process): prefix, broadcast, label, scope; IPv6 VIPs get NODAD
//! so they are usable at once. An address already present when added, or
//! already gone when removed, is not an error (start-up after a crash,
//! an operator's manual change).

use std::net::IpAddr;

use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::Handle;

/// One address to place on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ifindex: u32,
    pub ifname: String,
    pub brd: Option<IpAddr>,
    pub label: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Display for Vip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} dev {}", self.addr, self.prefix, self.ifname)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    #[error("cannot open rtnetlink: {0}")]
    Open(std::io::Error),
    #[error("{op} {vip}: {err}")]
    Request {
        op: &'static str,
        vip: String,
        err: String,
    },
}

fn scope_of(s: Option<&str>) -> AddressScope {
    match s {
        Some("host") => AddressScope::Host,
        Some("link") => AddressScope::Link,
        Some("site") => AddressScope::Site,
        Some("nowhere") => AddressScope::Nowhere,
        Some(other) => other
            .parse::<u8>()
            .map(AddressScope::from)
            .unwrap_or(AddressScope::Universe),
        None => AddressScope::Universe,
    }
}

fn message(v: &Vip) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = if v.addr.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.prefix_len = v.prefix;
    m.header.index = v.ifindex;
    m.header.scope = scope_of(v.scope.as_deref());
    m.attributes.push(AddressAttribute::Local(v.addr));
    m.attributes.push(AddressAttribute::Address(v.addr));
    if let Some(IpAddr::V4(b)) = v.brd {
        m.attributes.push(AddressAttribute::Broadcast(b));
    }
    if let Some(l) = &v.label {
        if v.addr.is_ipv4() {
            m.attributes.push(AddressAttribute::Label(l.clone()));
        }
    }
    if v.addr.is_ipv6() {
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    m
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// A connection to rtnetlink for address changes.
#[derive(Clone)]
pub struct AddressManager {
    handle: Handle,
}

impl AddressManager {
    /// Opens the connection; its driver runs on the current tokio runtime.
    pub fn open() -> Result<AddressManager, AddrError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(AddrError::Open)?;
        tokio::spawn(conn);
        Ok(AddressManager { handle })
    }

    /// The rtnetlink handle (routes use it too).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Adds `v`; already present is fine.
    pub async fn add(&self, v: &Vip) -> Result<(), AddrError> {
        let mut req = self.handle.address().add(v.ifindex, v.addr, v.prefix);
        *req.message_mut() = message(v);
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(AddrError::Request {
                op: "add",
                vip: v.to_string(),
                err: e.to_string(),
            }),
        }
    }

    /// Removes `v`; already gone is fine.
    pub async fn remove(&self, v: &Vip) -> Result<(), AddrError> {
        match self.handle.address().del(message(v)).execute().await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    errno(&e),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT) | Some(libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(AddrError::Request {
                op: "remove",
                vip: v.to_string(),
                err: e.to_string(),
            }),
        }
    }
}
