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

use lvsd_ipvs::{Destination, ForwardMethod, Table};

use crate::config::model::{Config, Forwarding, Method, RealServer};

use super::state::Director;

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

/// The whole start-up table, sorted as ipvsadm lists it.
pub fn startup_table(cfg: &Config) -> Table {
    Director::new(cfg, 0).desired(cfg)
}
