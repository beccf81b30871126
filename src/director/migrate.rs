//! Carrying state across a reload and a restart.
//!
//! Reload (SIGHUP): virtual servers are matched by their service keys,
//! real servers by address and port, checkers by their full settings (any
//! changed setting makes a new checker, as in keepalived). A matched checker
//! keeps its state; a matched real server keeps its admin state, failure
//! reason and `since`; a matched virtual server keeps its quorum state. New
//! checkers follow the start-up rule, except that `alpha` does not pull down
//! a real server that is already up (keepalived PR #1180).
//!
//! Restart: a real server whose destination is already in the kernel table
//! counts as up until its own checks say otherwise (`alpha` does not pull an
//! adopted destination), so an identical restart changes nothing.

use std::collections::HashMap;
use std::net::IpAddr;

use lvsd_ipvs::{ServiceKey, Table};

use crate::config::model::{Checker, Config, VirtualServer};

use super::services;
use super::state::{CheckerId, Director, RealServerState, VirtualServerState};

fn vs_identity(vs: &VirtualServer, cfg: &Config) -> Vec<ServiceKey> {
    let mut keys = services::service_keys(vs, cfg);
    keys.sort();
    keys
}

/// Whether two checkers are the same check (type, target, settings and
/// timing values; where they were written does not matter).
pub fn same_checker(a: &Checker, b: &Checker) -> bool {
    let (x, y) = (&a.timing, &b.timing);
    a.kind == b.kind
        && a.conn == b.conn
        && x.delay_loop.value == y.delay_loop.value
        && x.connect_timeout.value == y.connect_timeout.value
        && x.retry.value == y.retry.value
        && x.delay_before_retry.value == y.delay_before_retry.value
        && x.warmup.value == y.warmup.value
        && x.alpha.value == y.alpha.value
        && x.log_all_failures == y.log_all_failures
}

/// The state of `new_cfg` after a reload from `old_cfg` in state `old`.
pub fn reload(old_cfg: &Config, old: &Director, new_cfg: &Config, now: u64) -> Director {
    reload_mapped(old_cfg, old, new_cfg, now).0
}

/// As `reload`, also returning which new checker is which old one
/// (`(new, old)`), so unchanged checks can keep running untouched.
pub fn reload_mapped(
    old_cfg: &Config,
    old: &Director,
    new_cfg: &Config,
    now: u64,
) -> (Director, Vec<(CheckerId, CheckerId)>) {
    let mut pairs = Vec::new();
    let mut fresh = Director::new(new_cfg, now);
    let old_index: HashMap<Vec<ServiceKey>, usize> = old_cfg
        .virtual_servers
        .iter()
        .enumerate()
        .map(|(i, vs)| (vs_identity(vs, old_cfg), i))
        .collect();
    for (ni, new_vs) in new_cfg.virtual_servers.iter().enumerate() {
        let Some(&oi) = old_index.get(&vs_identity(new_vs, new_cfg)) else {
            continue;
        };
        let (Some(old_vs_cfg), Some(old_vs)) =
            (old_cfg.virtual_servers.get(oi), old.virtual_servers.get(oi))
        else {
            continue;
        };
        let Some(st) = fresh.virtual_servers.get_mut(ni) else {
            continue;
        };
        migrate_vs(old_vs_cfg, old_vs, new_vs, st, (ni, oi), &mut pairs);
    }
    (fresh, pairs)
}

fn migrate_vs(
    old_cfg: &VirtualServer,
    old: &VirtualServerState,
    new_cfg: &VirtualServer,
    st: &mut VirtualServerState,
    (nvi, ovi): (usize, usize),
    pairs: &mut Vec<(CheckerId, CheckerId)>,
) {
    let old_rs: HashMap<(IpAddr, u16), usize> = old_cfg
        .real_servers
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.addr, r.port.value), i))
        .collect();
    for (nri, new_rs) in new_cfg.real_servers.iter().enumerate() {
        let Some(&ori) = old_rs.get(&(new_rs.addr, new_rs.port.value)) else {
            continue;
        };
        let (Some(old_rs_cfg), Some(old_state)) =
            (old_cfg.real_servers.get(ori), old.real_servers.get(ori))
        else {
            continue;
        };
        let Some(r) = st.real_servers.get_mut(nri) else {
            continue;
        };
        let was_alive = old_state.alive();
        let mut unmatched: Vec<usize> = (0..old_rs_cfg.checkers.len()).collect();
        for (nci, c) in new_rs.checkers.iter().enumerate() {
            let found = unmatched
                .iter()
                .position(|&o| same_checker(&old_rs_cfg.checkers[o], c))
                .map(|p| unmatched.remove(p));
            match found {
                Some(oci) => {
                    pairs.push((
                        CheckerId {
                            vs: nvi,
                            rs: nri,
                            checker: nci,
                        },
                        CheckerId {
                            vs: ovi,
                            rs: ori,
                            checker: oci,
                        },
                    ));
                    r.checker_up[nci] = old_state.checker_up.get(oci).copied().unwrap_or(true);
                    r.checker_delta[nci] = old_state.checker_delta.get(oci).copied().unwrap_or(0);
                }
                // A new checker on a real server that is up does not take it
                // down before its first result, even with alpha.
                None if was_alive => r.checker_up[nci] = true,
                None => {}
            }
        }
        r.admin = old_state.admin;
        r.last_reason = old_state.last_reason.clone();
        if r.alive() == was_alive {
            r.since = old_state.since;
        }
    }
    st.quorum_up = old.quorum_up;
    st.since = old.since;
}

/// Start-up state that adopts what the kernel already has: a real server
/// present in `kernel` for every service of its virtual server counts as up.
pub fn adopt(cfg: &Config, kernel: &Table, now: u64) -> Director {
    let mut d = Director::new(cfg, now);
    for (vi, vs) in cfg.virtual_servers.iter().enumerate() {
        let keys = services::service_keys(vs, cfg);
        let Some(st) = d.virtual_servers.get_mut(vi) else {
            continue;
        };
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            let present = !keys.is_empty()
                && keys.iter().all(|k| {
                    kernel.find(k).is_some_and(|e| {
                        e.destinations
                            .iter()
                            .any(|d| d.addr == rs.addr && d.port == rs.port.value && d.weight > 0)
                    })
                });
            if present {
                if let Some(r) = st.real_servers.get_mut(ri) {
                    r.checker_up.iter_mut().for_each(|u| *u = true);
                }
            }
        }
    }
    // Quorum follows the adopted state.
    for (vi, vs) in cfg.virtual_servers.iter().enumerate() {
        if let Some(st) = d.virtual_servers.get_mut(vi) {
            let live: u64 = st
                .real_servers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.alive())
                .map(|(i, r)| super::state::effective_weight(vs, i, r) as u64)
                .sum();
            st.quorum_up = live >= vs.quorum.value as u64 + vs.hysteresis as u64;
        }
    }
    d
}

/// Real server states by address, for tests and status.
pub fn states_by_addr(cfg: &Config, d: &Director, vs: usize) -> Vec<(String, RealServerState)> {
    cfg.virtual_servers
        .get(vs)
        .zip(d.virtual_servers.get(vs))
        .map(|(vc, st)| {
            vc.real_servers
                .iter()
                .zip(&st.real_servers)
                .map(|(r, s)| (format!("{}:{}", r.addr, r.port.value), s.clone()))
                .collect()
        })
        .unwrap_or_default()
}
