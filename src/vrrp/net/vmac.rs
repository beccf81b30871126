//! `use_vmac`: the RFC's virtual router MAC (00:00:5e:00:01:VRID for IPv4,
//! 00:00:5e:00:02:VRID for IPv6) on a macvlan in private mode over the
//! instance's interface, as keepalived does. The VIPs live on the macvlan,
//! adverts (IPv4) and gratuitous ARPs leave from it, so a failover moves
//! only the MAC on the switch and hosts' ARP caches stay right. The parent
//! is set to answer ARP only for its own addresses (arp_ignore 1,
//! arp_filter 1), or it would answer for the VIP with its own MAC, and to
//! ask ARP questions from its own address (arp_announce 2), or a reply it
//! sends from the VIP would teach hosts the parent's MAC for the VIP.

use rtnetlink::packet_route::link::MacVlanMode;
use rtnetlink::{Handle, LinkMacVlan};

use super::iface;

/// The virtual router MAC of `vrid`.
pub fn vmac_address(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// keepalived's default name for the macvlan: `vrrp.VRID`.
pub fn default_name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

fn set_sysctl(path: &str, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("{path}: {e}"))
}

/// Creates (or re-creates, after a crash) the macvlan `name` on `parent`
/// with `mac`, up; returns its index.
pub async fn create(
    h: &Handle,
    name: &str,
    parent: &str,
    parent_index: u32,
    mac: [u8; 6],
) -> Result<u32, String> {
    if let Some(old) = iface::index_of(name) {
        let _ = h.link().del(old).execute().await;
    }
    h.link()
        .add(
            LinkMacVlan::new(name, parent_index, MacVlanMode::Private)
                .address(mac.to_vec())
                .up()
                .build(),
        )
        .execute()
        .await
        .map_err(|e| format!("cannot create macvlan {name} on {parent}: {e}"))?;
    for (k, v) in [
        ("arp_ignore", "1"),
        ("arp_filter", "1"),
        ("arp_announce", "2"),
    ] {
        set_sysctl(&format!("/proc/sys/net/ipv4/conf/{parent}/{k}"), v)?;
    }
    // The macvlan answers ARP for the VIP with the virtual MAC.
    let _ = set_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/arp_ignore"), "1");
    iface::index_of(name).ok_or_else(|| format!("macvlan {name} vanished after creation"))
}

/// Removes the macvlan (its addresses go with it).
pub async fn delete(h: &Handle, index: u32) -> Result<(), String> {
    h.link()
        .del(index)
        .execute()
        .await
        .map_err(|e| format!("cannot delete the macvlan: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_addresses() {
        assert_eq!(vmac_address(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(vmac_address(7, true), [0, 0, 0x5e, 0, 2, 7]);
        assert_eq!(default_name(51), "vrrp.51");
    }
}
