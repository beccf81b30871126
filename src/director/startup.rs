//! The table lvsd programs at start-up (`lvsd plan`, `lvsd apply`, and the
//! daemon's first reconcile), following keepalived's start-up rules:
//!
//! - a real server without checkers, or whose checkers have no `alpha`,
//!   counts as up and is added at its weight;
//! - a real server with an `alpha` checker starts down: absent, or at
//!   weight 0 with `inhibit_on_failure`;
//! - quorum is up when the live weight is at least `quorum + hysteresis`;
//!   when it is not and there is a `sorry_server`, the live real servers are
//!   withdrawn (weight 0 with inhibit) and the sorry server serves at
//!   weight 1; with `sorry_server_inhibit` and quorum up, the sorry server
//!   stands by at weight 0.
//!
//! Dynamic weights (MISC_CHECK `misc_dynamic`, FILE_CHECK) are not known
//! before checks run; the plan uses configured weights.

use lvsd_ipvs::{Destination, ForwardMethod, ServiceEntry, Table};

use crate::config::model::{Config, Forwarding, Method, RealServer, VirtualServer};

use super::services;

/// Whether a real server counts as up before any check has run.
pub fn starts_up(rs: &RealServer) -> bool {
    rs.checkers.iter().all(|c| !c.timing.alpha.value)
}

pub fn forward_method(f: &Forwarding) -> ForwardMethod {
    match f.method {
        Method::Nat => ForwardMethod::Masq,
        Method::Dr => ForwardMethod::Route,
        Method::Tun => ForwardMethod::Tunnel,
    }
}

/// The destination for a real server at a given weight.
pub fn destination(rs: &RealServer, weight: u32) -> Destination {
    let f = rs.forwarding.value;
    let mut d = Destination::new(rs.addr, rs.port.value);
    d.forward = forward_method(&f);
    d.weight = weight;
    d.u_threshold = rs.uthreshold;
    d.l_threshold = rs.lthreshold;
    if f.method == Method::Tun {
        d.tunnel = f.tunnel;
    }
    d
}

/// The destinations of one virtual server at start-up.
pub fn start_destinations(vs: &VirtualServer) -> Vec<Destination> {
    let live_weight: u64 = vs
        .real_servers
        .iter()
        .filter(|rs| starts_up(rs))
        .map(|rs| rs.weight.value as u64)
        .sum();
    let quorum_up = live_weight >= vs.quorum.value as u64 + vs.hysteresis as u64;
    let sorry_active = !quorum_up && vs.sorry_server.is_some();
    let mut dests = Vec::new();
    for rs in &vs.real_servers {
        let up = starts_up(rs);
        let inhibit = rs.inhibit_on_failure.value;
        if up && !sorry_active {
            dests.push(destination(rs, rs.weight.value));
        } else if inhibit {
            dests.push(destination(rs, 0));
        }
    }
    if let Some(sorry) = &vs.sorry_server {
        let weight = if sorry_active {
            Some(1)
        } else if sorry.inhibit {
            Some(0)
        } else {
            None
        };
        let duplicate = dests
            .iter()
            .any(|d| d.addr == sorry.addr && d.port == sorry.port);
        if let (Some(w), false) = (weight, duplicate) {
            let mut d = Destination::new(sorry.addr, sorry.port);
            d.forward = forward_method(&sorry.forwarding);
            if sorry.forwarding.method == Method::Tun {
                d.tunnel = sorry.forwarding.tunnel;
            }
            d.weight = w;
            dests.push(d);
        }
    }
    dests
}

/// The whole start-up table, sorted as ipvsadm lists it.
pub fn startup_table(cfg: &Config) -> Table {
    let mut table = Table::default();
    for vs in &cfg.virtual_servers {
        let dests = start_destinations(vs);
        for key in services::service_keys(vs, cfg) {
            if table.find(&key).is_some() {
                continue;
            }
            table.services.push(ServiceEntry {
                service: services::service(vs, key),
                destinations: dests.clone(),
            });
        }
    }
    table.sort();
    table
}
