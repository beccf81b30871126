//! `ipvsadm -L -n`: a listing in every mode ipvsadm 1.31 has (default,
//! `--stats`, `--rate`, `--exact`, `--thresholds`, `--persistent-conn`,
//! `--tun-info`, `--nosort`, and `-S`), from the exact printf formats of
//! ipvsadm.c `list_all`, `print_title` and `print_service_entry`. Trailing
//! spaces are part of the format.

use std::fmt::Write;

use super::largenum::largenum;
use super::names::{
    dest_list_name, forward_name, sched_flags_text, service_list_name, tunnel_info,
};
use crate::listing::{ListedDest, ListedService, Listing, Stats};
use crate::model::{svc_flags, Netmask};

/// ipvsadm's format flags. When several modes are set, the first in
/// ipvsadm's order wins: save, stats, rate, thresholds, persistent-conn,
/// tun-info.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `-S`: restore rules instead of a listing.
    pub save: bool,
    pub stats: bool,
    pub rate: bool,
    /// `--exact`: no K/M/G/T suffixes in stats and rate columns.
    pub exact: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub tun_info: bool,
    /// `--nosort`: keep the listing's own order.
    pub nosort: bool,
}

/// The listing in ipvsadm's order (unsigned address comparison).
pub fn sorted(listing: &Listing) -> Listing {
    let mut listing = listing.clone();
    listing
        .services
        .sort_by(|a, b| a.service.key.ipvsadm_cmp(&b.service.key));
    for service in &mut listing.services {
        service
            .destinations
            .sort_by(|a, b| a.dest.key().ipvsadm_cmp(&b.dest.key()));
    }
    listing
}

/// Renders a listing exactly as `ipvsadm -L -n [options]` (or `-S -n`).
pub fn list(listing: &Listing, options: &ListOptions) -> String {
    let owned;
    let listing = if options.nosort {
        listing
    } else {
        owned = sorted(listing);
        &owned
    };
    if options.save {
        let mut out = String::new();
        for service in &listing.services {
            out.push_str(&super::save::service_rule(&service.service));
            out.push('\n');
            for dest in &service.destinations {
                out.push_str(&super::save::dest_rule(&service.service.key, &dest.dest));
                out.push('\n');
            }
        }
        return out;
    }
    let version = listing.info.version;
    let mut out = format!(
        "IP Virtual Server version {}.{}.{} (size={})\n",
        (version >> 16) & 0xff,
        (version >> 8) & 0xff,
        version & 0xff,
        listing.info.conn_tab_size
    );
    out.push_str(&title(options));
    for service in &listing.services {
        push_service_line(&mut out, service, options);
        for dest in &service.destinations {
            push_dest_line(&mut out, dest, options);
        }
    }
    out
}

/// `print_title`, with its exact printf widths.
fn title(options: &ListOptions) -> String {
    const PROT: &str = "Prot LocalAddress:Port";
    const REMOTE: &str = "  -> RemoteAddress:Port";
    if options.stats {
        format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else if options.rate {
        format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    } else if options.thresholds {
        format!(
            "{PROT:<33} {:<10} {:<10} {:<10} {:<10}\n{REMOTE}\n",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if options.persistent_conn {
        format!(
            "{PROT:<33} {:<9} {:<11} {:<10} {:<10}\n{REMOTE}\n",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if options.tun_info {
        format!(
            "Prot LocalAddress:Port Scheduler Flags\n\
             {REMOTE}           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        )
    } else {
        format!(
            "Prot LocalAddress:Port Scheduler Flags\n\
             {REMOTE}           Forward Weight ActiveConn InActConn\n"
        )
    }
}

fn push_five(out: &mut String, values: [u64; 5], exact: bool) {
    for value in values {
        largenum(out, value, exact);
    }
}

fn traffic(stats: &Stats) -> [u64; 5] {
    [
        stats.conns,
        stats.inpkts,
        stats.outpkts,
        stats.inbytes,
        stats.outbytes,
    ]
}

fn rates(stats: &Stats) -> [u64; 5] {
    [
        stats.cps,
        stats.inpps,
        stats.outpps,
        stats.inbps,
        stats.outbps,
    ]
}

fn push_service_line(out: &mut String, entry: &ListedService, options: &ListOptions) {
    let service = &entry.service;
    let name = service_list_name(&service.key);
    if options.stats || options.rate {
        let _ = write!(out, "{name:<33}");
        let values = if options.stats {
            traffic(&entry.stats)
        } else {
            rates(&entry.stats)
        };
        push_five(out, values, options.exact);
        out.push('\n');
        return;
    }
    let _ = write!(out, "{name} {}", service.scheduler);
    if let Some(flags) = sched_flags_text(&service.scheduler, service.flags) {
        let _ = write!(out, " ({flags})");
    }
    if service.flags & svc_flags::PERSISTENT != 0 {
        let _ = write!(out, " persistent {}", service.timeout);
        match service.netmask {
            Netmask::V4(mask) if mask != 0xffff_ffff => {
                let _ = write!(out, " mask {}", std::net::Ipv4Addr::from(mask));
            }
            Netmask::V6Prefix(prefix) if prefix != 128 => {
                let _ = write!(out, " mask {prefix}");
            }
            _ => {}
        }
        if let Some(pe) = &service.pe_name {
            let _ = write!(out, " pe {pe}");
        }
    }
    if service.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" ops");
    }
    out.push('\n');
}

fn push_dest_line(out: &mut String, listed: &ListedDest, options: &ListOptions) {
    let dest = &listed.dest;
    let counters = &listed.counters;
    let name = dest_list_name(dest.addr, dest.port);
    if options.stats {
        let _ = write!(out, "  -> {name:<28}");
        push_five(out, traffic(&listed.stats), options.exact);
        out.push('\n');
    } else if options.rate {
        let stats = &listed.stats;
        let _ = write!(
            out,
            "  -> {name:<28} {:>8} {:>8} {:>8}",
            stats.cps, stats.inpps, stats.outpps
        );
        largenum(out, stats.inbps, options.exact);
        largenum(out, stats.outbps, options.exact);
        out.push('\n');
    } else if options.thresholds {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<10} {:<10} {:<10} {:<10}",
            dest.u_threshold, dest.l_threshold, counters.active_conns, counters.inact_conns
        );
    } else if options.persistent_conn {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<9} {:<11} {:<10} {:<10}",
            dest.weight, counters.persist_conns, counters.active_conns, counters.inact_conns
        );
    } else if options.tun_info {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
            forward_name(dest.forward),
            tunnel_info(dest.forward, &dest.tunnel),
            dest.weight as i32,
            counters.active_conns,
            counters.inact_conns
        );
    } else {
        let _ = writeln!(
            out,
            "  -> {name:<28} {:<7} {:<6} {:<10} {:<10}",
            forward_name(dest.forward),
            dest.weight as i32,
            counters.active_conns,
            counters.inact_conns
        );
    }
}
