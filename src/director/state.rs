//! The director's policy state: per real server, the state of each of its
//! checkers and the operator's admin state; per virtual server, quorum. From
//! these it derives the desired IPVS table and the transitions operators are
//! told about (keepalived's `ipwrapper.c` semantics, minus its bugs):
//!
//! - a real server is alive when all its checkers are up (AND); its
//!   effective weight is its configured weight plus the checkers' dynamic
//!   deltas (MISC_CHECK `misc_dynamic`, FILE_CHECK), clamped to
//!   `[0, i32::MAX]`;
//! - not alive: absent from IPVS, or at weight 0 with `inhibit_on_failure`;
//! - quorum is gained when the live weight reaches `quorum + hysteresis`
//!   and lost when it drops to 0 or below `quorum - hysteresis`; while it is
//!   lost, a sorry server replaces the real servers (weight 1), which are
//!   withdrawn (weight 0 with inhibit); with `sorry_server_inhibit` the sorry
//!   server stands by at weight 0 while quorum holds;
//! - an operator can `drain` (weight 0, connections stay) or `disable`
//!   (removed) a real server; that admin state survives reloads.
//!
//! Pure: no I/O, no clock (callers pass timestamps).

use std::collections::HashMap;
use std::net::IpAddr;

use lvsd_ipvs::{Destination, ServiceEntry, ServiceKey, Table};

use crate::config::model::{Config, Method, VirtualServer};

use super::services;
use super::startup::{destination, forward_method};

/// An operator's override of a real server's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminState {
    /// Follow the checks.
    #[default]
    Enabled,
    /// Keep it in IPVS at weight 0: existing connections finish.
    Drain,
    /// Remove it from IPVS.
    Disabled,
}

/// Identifies a checker: virtual server, real server, checker (indexes into
/// the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckerId {
    pub vs: usize,
    pub rs: usize,
    pub checker: usize,
}

#[derive(Debug, Clone)]
pub struct RealServerState {
    pub checker_up: Vec<bool>,
    pub checker_delta: Vec<i64>,
    pub admin: AdminState,
    /// Last failure reason reported by a checker.
    pub last_reason: Option<String>,
    /// When `alive()` last changed (caller's clock, e.g. Unix ms).
    pub since: u64,
}

impl RealServerState {
    pub fn alive(&self) -> bool {
        self.checker_up.iter().all(|u| *u)
    }
}

#[derive(Debug, Clone)]
pub struct VirtualServerState {
    pub quorum_up: bool,
    pub real_servers: Vec<RealServerState>,
    pub since: u64,
}

/// Something operators are told about (logs, notify scripts, FIFOs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    RealServerUp {
        vs: usize,
        rs: usize,
    },
    RealServerDown {
        vs: usize,
        rs: usize,
        reason: Option<String>,
    },
    QuorumUp {
        vs: usize,
    },
    QuorumDown {
        vs: usize,
    },
}

/// The policy state of every virtual server of a configuration.
#[derive(Debug, Clone)]
pub struct Director {
    pub virtual_servers: Vec<VirtualServerState>,
}

impl Director {
    /// The state at start-up (keepalived's rule: checkers without `alpha`
    /// start up; `alpha` checkers start down).
    pub fn new(cfg: &Config, now: u64) -> Self {
        let virtual_servers = cfg
            .virtual_servers
            .iter()
            .map(|vs| {
                let real_servers: Vec<RealServerState> = vs
                    .real_servers
                    .iter()
                    .map(|rs| RealServerState {
                        checker_up: rs.checkers.iter().map(|c| !c.timing.alpha.value).collect(),
                        checker_delta: vec![0; rs.checkers.len()],
                        admin: AdminState::Enabled,
                        last_reason: None,
                        since: now,
                    })
                    .collect();
                let mut st = VirtualServerState {
                    quorum_up: false,
                    real_servers,
                    since: now,
                };
                st.quorum_up = live_weight(vs, &st) >= threshold_up(vs);
                st
            })
            .collect();
        Director { virtual_servers }
    }

    /// Records a checker's new state (and dynamic weight delta); returns
    /// what changed for operators.
    pub fn set_checker(
        &mut self,
        cfg: &Config,
        id: CheckerId,
        up: bool,
        delta: Option<i64>,
        reason: Option<String>,
        now: u64,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        let Some(vs_cfg) = cfg.virtual_servers.get(id.vs) else {
            return out;
        };
        let Some(vs) = self.virtual_servers.get_mut(id.vs) else {
            return out;
        };
        let Some(rs) = vs.real_servers.get_mut(id.rs) else {
            return out;
        };
        if id.checker >= rs.checker_up.len() {
            return out;
        }
        let was = rs.alive();
        rs.checker_up[id.checker] = up;
        if let Some(d) = delta {
            rs.checker_delta[id.checker] = d;
        }
        if !up {
            rs.last_reason = reason.clone();
        }
        let is = rs.alive();
        if was != is {
            rs.since = now;
            out.push(if is {
                Transition::RealServerUp {
                    vs: id.vs,
                    rs: id.rs,
                }
            } else {
                Transition::RealServerDown {
                    vs: id.vs,
                    rs: id.rs,
                    reason,
                }
            });
        }
        out.extend(update_quorum(id.vs, vs_cfg, vs, now));
        out
    }

    /// Sets an operator's admin state for a real server.
    pub fn set_admin(
        &mut self,
        cfg: &Config,
        vs: usize,
        rs: usize,
        admin: AdminState,
        now: u64,
    ) -> Vec<Transition> {
        let (Some(vs_cfg), Some(st)) = (
            cfg.virtual_servers.get(vs),
            self.virtual_servers.get_mut(vs),
        ) else {
            return Vec::new();
        };
        if let Some(r) = st.real_servers.get_mut(rs) {
            r.admin = admin;
        }
        update_quorum(vs, vs_cfg, st, now).into_iter().collect()
    }

    /// The table the director wants in the kernel.
    pub fn desired(&self, cfg: &Config) -> Table {
        let mut table = Table::default();
        let mut seen: HashMap<ServiceKey, ()> = HashMap::new();
        for (vs_cfg, st) in cfg.virtual_servers.iter().zip(&self.virtual_servers) {
            let mut dests = destinations(vs_cfg, st);
            let keys: Vec<ServiceKey> = services::service_keys(vs_cfg, cfg)
                .into_iter()
                .filter(|&key| seen.insert(key, ()).is_none())
                .collect();
            // Each service gets the destinations; the last takes them
            // without a copy.
            for (i, &key) in keys.iter().enumerate() {
                let destinations = if i + 1 == keys.len() {
                    std::mem::take(&mut dests)
                } else {
                    dests.clone()
                };
                table.services.push(ServiceEntry {
                    service: services::service(vs_cfg, key),
                    destinations,
                });
            }
        }
        table.sort();
        table
    }
}

/// `quorum + hysteresis`.
fn threshold_up(vs: &VirtualServer) -> u64 {
    vs.quorum.value as u64 + vs.hysteresis as u64
}

/// Effective weight of a real server: configured weight plus dynamic
/// deltas, clamped to what IPVS accepts.
pub fn effective_weight(vs: &VirtualServer, rs_index: usize, st: &RealServerState) -> u32 {
    let base = vs
        .real_servers
        .get(rs_index)
        .map(|r| r.weight.value as i64)
        .unwrap_or(0);
    let sum: i64 = base + st.checker_delta.iter().sum::<i64>();
    sum.clamp(0, i32::MAX as i64) as u32
}

/// Sum of the effective weights of alive, enabled real servers.
fn live_weight(vs: &VirtualServer, st: &VirtualServerState) -> u64 {
    st.real_servers
        .iter()
        .enumerate()
        .filter(|(_, r)| r.alive() && r.admin != AdminState::Disabled)
        .map(|(i, r)| effective_weight(vs, i, r) as u64)
        .sum()
}

fn update_quorum(
    index: usize,
    vs: &VirtualServer,
    st: &mut VirtualServerState,
    now: u64,
) -> Option<Transition> {
    let live = live_weight(vs, st);
    let q = vs.quorum.value as u64;
    let h = vs.hysteresis as u64;
    if !st.quorum_up && live >= q + h {
        st.quorum_up = true;
        st.since = now;
        return Some(Transition::QuorumUp { vs: index });
    }
    if st.quorum_up && (live == 0 || live < q.saturating_sub(h)) {
        st.quorum_up = false;
        st.since = now;
        return Some(Transition::QuorumDown { vs: index });
    }
    None
}

/// The destinations of one virtual server in its current state.
pub fn destinations(vs: &VirtualServer, st: &VirtualServerState) -> Vec<Destination> {
    let sorry_active = !st.quorum_up && vs.sorry_server.is_some();
    let mut dests =
        Vec::with_capacity(vs.real_servers.len() + usize::from(vs.sorry_server.is_some()));
    for (i, (rs, r)) in vs.real_servers.iter().zip(&st.real_servers).enumerate() {
        let inhibit = rs.inhibit_on_failure.value;
        let weight = match r.admin {
            AdminState::Disabled => None,
            AdminState::Drain => Some(0),
            AdminState::Enabled => {
                if r.alive() && !sorry_active {
                    Some(effective_weight(vs, i, r))
                } else if inhibit {
                    Some(0)
                } else {
                    None
                }
            }
        };
        if let Some(w) = weight {
            dests.push(destination(rs, w));
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
            dests.push(sorry_destination(
                sorry.addr,
                sorry.port,
                &sorry.forwarding,
                w,
            ));
        }
    }
    dests
}

fn sorry_destination(
    addr: IpAddr,
    port: u16,
    f: &crate::config::model::Forwarding,
    weight: u32,
) -> Destination {
    let mut d = Destination::new(addr, port);
    d.forward = forward_method(f);
    if f.method == Method::Tun {
        d.tunnel = f.tunnel;
    }
    d.weight = weight;
    d
}
