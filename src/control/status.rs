//! Status snapshots and watch events from the daemon's state (what
//! `lvsd status` shows and `lvsd status --watch` streams). Pure functions of
//! the configuration, the director and the desired table.

use std::collections::HashMap;

use lvsd_ipvs::{DestKey, IpvsBackend, Table};

use super::protocol::{
    Event, EventKind, RealServerStatus, RsState, Status, VirtualServerStatus, VrrpInstanceStatus,
};
use crate::config::model::Config;
use crate::daemon::runtime::Runtime;
use crate::director::names;
use crate::director::services;
use crate::director::state::{effective_weight, Director, Transition};

/// The weight IPVS has (as lvsd programs it) for a destination of a virtual
/// server, looking at its first service.
fn ipvs_weights(cfg: &Config, vi: usize, desired: &Table) -> HashMap<DestKey, u32> {
    let Some(vs) = cfg.virtual_servers.get(vi) else {
        return HashMap::new();
    };
    services::service_keys(vs, cfg)
        .first()
        .and_then(|k| desired.find(k))
        .map(|e| e.destinations.iter().map(|d| (d.key(), d.weight)).collect())
        .unwrap_or_default()
}

/// Every virtual and real server with its state.
pub fn virtual_servers(
    cfg: &Config,
    director: &Director,
    desired: &Table,
) -> Vec<VirtualServerStatus> {
    cfg.virtual_servers
        .iter()
        .zip(&director.virtual_servers)
        .enumerate()
        .map(|(vi, (vs, st))| {
            let weights = ipvs_weights(cfg, vi, desired);
            let real_servers = vs
                .real_servers
                .iter()
                .zip(&st.real_servers)
                .enumerate()
                .map(|(ri, (rs, r))| RealServerStatus {
                    rs: names::rs_name(rs.addr, rs.port.value),
                    state: if r.alive() {
                        RsState::Up
                    } else {
                        RsState::Down
                    },
                    weight: rs.weight.value,
                    effective_weight: effective_weight(vs, ri, r),
                    ipvs_weight: weights
                        .get(&DestKey {
                            addr: rs.addr,
                            port: rs.port.value,
                        })
                        .copied(),
                    admin: r.admin,
                    since_ms: r.since,
                    reason: r.last_reason.clone(),
                })
                .collect();
            VirtualServerStatus {
                vs: names::vs_name(vs),
                protocol: names::protocol_name(vs.protocol.value).to_string(),
                quorum: vs.quorum.value,
                quorum_up: st.quorum_up,
                since_ms: st.since,
                sorry_server: vs
                    .sorry_server
                    .as_ref()
                    .map(|s| names::rs_name(s.addr, s.port)),
                sorry_server_active: vs.sorry_server.is_some() && !st.quorum_up,
                real_servers,
            }
        })
        .collect()
}

/// The whole status of a running daemon.
pub fn snapshot<B: IpvsBackend>(rt: &Runtime<B>) -> Status {
    Status {
        virtual_servers: virtual_servers(&rt.cfg, &rt.director, &rt.desired()),
        reconcile: rt.stats,
        reloads: rt.reloads,
        draining: rt.draining_count(),
        vrrp: Vec::new(),
    }
}

/// The VRRP engine's view, for `status`.
pub fn vrrp(shared: &crate::vrrp::engine::SharedStatus) -> Vec<VrrpInstanceStatus> {
    let Ok(list) = shared.lock() else {
        return Vec::new();
    };
    list.iter()
        .map(|i| VrrpInstanceStatus {
            name: i.name.clone(),
            interface: i.interface.clone(),
            vrid: i.vrid,
            state: i.state.name().to_string(),
            priority: i.priority,
            effective_priority: i.effective_priority,
            why: i.why.clone(),
            fault: i.fault.clone(),
            master: i.master.clone(),
            since_ms: i.last_transition_unix_ms,
            cause: i.last_cause.clone(),
            transitions: i.transitions,
            adverts_sent: i.adverts_sent,
            adverts_received: i.adverts_received,
            send_errors: i.send_errors,
            drops: i.drops.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        })
        .collect()
}

/// A transition as `watch` streams it (indexes resolved against `cfg`).
pub fn event(cfg: &Config, t: &Transition, at_ms: u64) -> Option<Event> {
    let (vi, ri, kind, reason) = match t {
        Transition::RealServerUp { vs, rs } => (*vs, Some(*rs), EventKind::RealServerUp, None),
        Transition::RealServerDown { vs, rs, reason } => {
            (*vs, Some(*rs), EventKind::RealServerDown, reason.clone())
        }
        Transition::QuorumUp { vs } => (*vs, None, EventKind::QuorumUp, None),
        Transition::QuorumDown { vs } => (*vs, None, EventKind::QuorumDown, None),
    };
    let vs = cfg.virtual_servers.get(vi)?;
    let rs = match ri {
        Some(ri) => {
            let r = vs.real_servers.get(ri)?;
            Some(names::rs_name(r.addr, r.port.value))
        }
        None => None,
    };
    Some(Event {
        at_ms,
        kind,
        vs: names::vs_name(vs),
        protocol: names::protocol_name(vs.protocol.value).to_string(),
        rs,
        reason,
    })
}
