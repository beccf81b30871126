//! `ipvsadm -S -n`: a table as restore rules, byte for byte as ipvsadm 1.31
//! prints them (ipvsadm.c `print_service_entry` with `FMT_RULE`,
//! `print_tunnel_rule`). Thresholds, connection timeouts and sync daemons
//! are not saved; `Local` destinations are saved as `-g`. Output is sorted
//! (see the module docs of `format` for the one ordering divergence).

use std::fmt::Write;

use super::names::{forward_switch, sched_flags_text, service_switch, tunnel_csum_option};
use crate::listing::Listing;
use crate::model::{
    svc_flags, Destination, ForwardMethod, Netmask, Service, ServiceKey, SocketText, Table,
    TunnelType,
};

/// The `-A` rule of a service (no newline): `-A -t 10.0.0.1:80 -s wlc
/// [-p T [-M MASK]] [--pe NAME] [-o] [-b FLAGS]`.
pub fn service_rule(service: &Service) -> String {
    let mut out = format!(
        "-A {} -s {}",
        service_switch(&service.key),
        service.scheduler
    );
    if service.flags & svc_flags::PERSISTENT != 0 {
        let _ = write!(out, " -p {}", service.timeout);
        match service.netmask {
            Netmask::V4(mask) if mask != 0xffff_ffff => {
                let _ = write!(out, " -M {}", std::net::Ipv4Addr::from(mask));
            }
            Netmask::V6Prefix(prefix) if prefix != 128 => {
                let _ = write!(out, " -M {prefix}");
            }
            _ => {}
        }
    }
    if let Some(pe) = &service.pe_name {
        let _ = write!(out, " --pe {pe}");
    }
    if service.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" -o");
    }
    if let Some(flags) = sched_flags_text(&service.scheduler, service.flags) {
        let _ = write!(out, " -b {flags}");
    }
    out
}

/// The `-a` rule of a destination (no newline): `-a SVC -r ADDR:PORT
/// -g|-m|-i -w W` plus `--tun-type`, `--tun-port` and the checksum option
/// for tunnels. The weight is printed signed (`%d`), as ipvsadm does.
pub fn dest_rule(key: &ServiceKey, dest: &Destination) -> String {
    let mut out = format!(
        "-a {} -r {} {} -w {}",
        service_switch(key),
        SocketText(dest.addr, dest.port),
        forward_switch(dest.forward),
        dest.weight as i32
    );
    if dest.forward == ForwardMethod::Tunnel {
        let tunnel = &dest.tunnel;
        let _ = write!(out, " --tun-type {}", tunnel.kind.name());
        match tunnel.kind {
            TunnelType::Ipip => {}
            TunnelType::Gue => {
                let _ = write!(
                    out,
                    " --tun-port {} {}",
                    tunnel.port,
                    tunnel_csum_option(tunnel.csum)
                );
            }
            TunnelType::Gre => {
                let _ = write!(out, " {}", tunnel_csum_option(tunnel.csum));
            }
        }
    }
    out
}

fn push_service<'a>(
    out: &mut String,
    service: &Service,
    dests: impl Iterator<Item = &'a Destination>,
) {
    out.push_str(&service_rule(service));
    out.push('\n');
    for dest in dests {
        out.push_str(&dest_rule(&service.key, dest));
        out.push('\n');
    }
}

/// A desired or dumped table exactly as `ipvsadm -Sn` prints it (this is
/// what `lvsd plan` prints).
pub fn save_table(table: &Table) -> String {
    let mut sorted = table.clone();
    sorted.sort();
    let mut out = String::new();
    for entry in &sorted.services {
        push_service(&mut out, &entry.service, entry.destinations.iter());
    }
    out
}

/// A kernel listing exactly as `ipvsadm -Sn` prints it (no version line,
/// no title, counters ignored).
pub fn save_listing(listing: &Listing) -> String {
    let sorted = super::list::sorted(listing);
    let mut out = String::new();
    for entry in &sorted.services {
        push_service(
            &mut out,
            &entry.service,
            entry.destinations.iter().map(|d| &d.dest),
        );
    }
    out
}
