//! What `/metrics` reports, gathered from the daemon on each scrape:
//!
//! - the kernel's counters per IPVS service (`lvsd_vs_*`) and destination
//!   (`lvsd_rs_*`): connections, packets, bytes (counters) and their rates,
//!   active/inactive/persistent connections and weight (gauges); labels
//!   `vs` (`10.0.0.1:80`, `fwmark:1`), `protocol`, and `rs`;
//! - the director's view per configured virtual server: real server up,
//!   effective weight, admin state, quorum (labels as `lvsd status`: `vs`
//!   may be `group:NAME`);
//! - check attempts (`lvsd_check_results_total{result}`) and their latency
//!   (`lvsd_check_duration_seconds` sum and count);
//! - reconcile runs/operations/failures and reloads done/refused;
//! - per VRRP instance: state, priorities, transitions, adverts sent and
//!   received, send errors and dropped adverts by reason.

use std::collections::HashMap;

use lvsd_ipvs::{IpvsBackend, ServiceKey, SocketText, Stats};

use super::exposition::{render as render_text, Family, Kind, Labels};
use crate::config::model::{Config, VsTarget};
use crate::daemon::runtime::Runtime;
use crate::director::names;
use crate::director::state::AdminState;

/// `vs` and `protocol` labels of a kernel service.
fn service_labels(key: &ServiceKey, cfg: &Config) -> Labels {
    let (vs, protocol) = match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (
            SocketText(*addr, *port).to_string(),
            names::protocol_name(*protocol).to_string(),
        ),
        ServiceKey::Fwmark { mark, .. } => {
            let protocol = cfg
                .virtual_servers
                .iter()
                .find(|v| matches!(v.target, VsTarget::Fwmark(m) if m == *mark))
                .map(|v| names::protocol_name(v.protocol.value))
                .unwrap_or("tcp");
            (format!("fwmark:{mark}"), protocol.to_string())
        }
    };
    vec![("vs", vs), ("protocol", protocol)]
}

struct Traffic {
    conns: Family,
    inpkts: Family,
    outpkts: Family,
    inbytes: Family,
    outbytes: Family,
    cps: Family,
    inpps: Family,
    outpps: Family,
    inbps: Family,
    outbps: Family,
}

macro_rules! traffic {
    ($p:literal, $what:literal) => {
        Traffic {
            conns: Family::new(
                concat!($p, "_connections_total"),
                Kind::Counter,
                concat!("Connections scheduled to the ", $what, " (IPVS)."),
            ),
            inpkts: Family::new(
                concat!($p, "_in_packets_total"),
                Kind::Counter,
                concat!("Incoming packets of the ", $what, " (IPVS)."),
            ),
            outpkts: Family::new(
                concat!($p, "_out_packets_total"),
                Kind::Counter,
                concat!("Outgoing packets of the ", $what, " (IPVS)."),
            ),
            inbytes: Family::new(
                concat!($p, "_in_bytes_total"),
                Kind::Counter,
                concat!("Incoming bytes of the ", $what, " (IPVS)."),
            ),
            outbytes: Family::new(
                concat!($p, "_out_bytes_total"),
                Kind::Counter,
                concat!("Outgoing bytes of the ", $what, " (IPVS)."),
            ),
            cps: Family::new(
                concat!($p, "_connections_per_second"),
                Kind::Gauge,
                concat!("Connection rate of the ", $what, " (IPVS estimator)."),
            ),
            inpps: Family::new(
                concat!($p, "_in_packets_per_second"),
                Kind::Gauge,
                concat!("Incoming packet rate of the ", $what, " (IPVS estimator)."),
            ),
            outpps: Family::new(
                concat!($p, "_out_packets_per_second"),
                Kind::Gauge,
                concat!("Outgoing packet rate of the ", $what, " (IPVS estimator)."),
            ),
            inbps: Family::new(
                concat!($p, "_in_bytes_per_second"),
                Kind::Gauge,
                concat!("Incoming byte rate of the ", $what, " (IPVS estimator)."),
            ),
            outbps: Family::new(
                concat!($p, "_out_bytes_per_second"),
                Kind::Gauge,
                concat!("Outgoing byte rate of the ", $what, " (IPVS estimator)."),
            ),
        }
    };
}

impl Traffic {
    fn add(&mut self, l: &Labels, s: &Stats) {
        for (f, v) in [
            (&mut self.conns, s.conns),
            (&mut self.inpkts, s.inpkts),
            (&mut self.outpkts, s.outpkts),
            (&mut self.inbytes, s.inbytes),
            (&mut self.outbytes, s.outbytes),
            (&mut self.cps, s.cps),
            (&mut self.inpps, s.inpps),
            (&mut self.outpps, s.outpps),
            (&mut self.inbps, s.inbps),
            (&mut self.outbps, s.outbps),
        ] {
            f.add(l.clone(), v as f64);
        }
    }

    fn into_families(self) -> [Family; 10] {
        [
            self.conns,
            self.inpkts,
            self.outpkts,
            self.inbytes,
            self.outbytes,
            self.cps,
            self.inpps,
            self.outpps,
            self.inbps,
            self.outbps,
        ]
    }
}

fn counter(name: &'static str, help: &'static str, v: u64) -> Family {
    let mut f = Family::new(name, Kind::Counter, help);
    f.add(vec![], v as f64);
    f
}

/// The whole exposition text for one scrape.
/// The VRRP families from the engine's status.
pub fn vrrp_families(list: &[crate::vrrp::engine::InstanceStatus]) -> Vec<Family> {
    use crate::vrrp::fsm::State;
    let mut state = Family::new(
        "lvsd_vrrp_state",
        Kind::Gauge,
        "1 for the VRRP instance's current state (label state).",
    );
    let mut prio = Family::new(
        "lvsd_vrrp_priority",
        Kind::Gauge,
        "Configured (kind=configured) and effective (kind=effective) priority.",
    );
    let mut transitions = Family::new(
        "lvsd_vrrp_transitions_total",
        Kind::Counter,
        "State transitions of the VRRP instance.",
    );
    let mut sent = Family::new(
        "lvsd_vrrp_adverts_sent_total",
        Kind::Counter,
        "Advertisements sent.",
    );
    let mut received = Family::new(
        "lvsd_vrrp_adverts_received_total",
        Kind::Counter,
        "Valid advertisements received.",
    );
    let mut errors = Family::new(
        "lvsd_vrrp_send_errors_total",
        Kind::Counter,
        "Advertisements that could not be sent.",
    );
    let mut drops = Family::new(
        "lvsd_vrrp_adverts_dropped_total",
        Kind::Counter,
        "Received advertisements dropped, by reason (ttl, checksum, auth, ...).",
    );
    for i in list {
        let l = || vec![("instance", i.name.clone()), ("vrid", i.vrid.to_string())];
        for st in [
            State::Initialize,
            State::Backup,
            State::Master,
            State::Fault,
            State::Leaving,
            State::Stopped,
        ] {
            let mut sl = l();
            sl.push(("state", st.name().to_string()));
            state.add(sl, if i.state == st { 1.0 } else { 0.0 });
        }
        let mut c = l();
        c.push(("kind", "configured".to_string()));
        prio.add(c, f64::from(i.priority));
        let mut e = l();
        e.push(("kind", "effective".to_string()));
        prio.add(e, f64::from(i.effective_priority));
        transitions.add(l(), i.transitions as f64);
        sent.add(l(), i.adverts_sent as f64);
        received.add(l(), i.adverts_received as f64);
        errors.add(l(), i.send_errors as f64);
        let mut reasons: Vec<_> = i.drops.iter().collect();
        reasons.sort();
        for (reason, n) in reasons {
            let mut dl = l();
            dl.push(("reason", reason.clone()));
            drops.add(dl, *n as f64);
        }
    }
    vec![state, prio, transitions, sent, received, errors, drops]
}

/// The whole exposition: the director's families plus VRRP's, if any.
pub fn render_with_vrrp<B: IpvsBackend>(
    rt: &mut Runtime<B>,
    vrrp: Option<&crate::vrrp::engine::SharedStatus>,
) -> String {
    let mut text = render(rt);
    if let Some(v) = vrrp {
        let list = v.lock().map(|l| l.clone()).unwrap_or_default();
        text.push_str(&render_text(&vrrp_families(&list)));
    }
    text
}

pub fn render<B: IpvsBackend>(rt: &mut Runtime<B>) -> String {
    let mut out = Vec::new();
    let listing = rt.backend().listing();
    let mut scrape = Family::new(
        "lvsd_ipvs_scrape_success",
        Kind::Gauge,
        "1 if the IPVS table could be read for this scrape.",
    );
    scrape.add(vec![], if listing.is_ok() { 1.0 } else { 0.0 });
    out.push(scrape);

    let mut vs_t = traffic!("lvsd_vs", "virtual service");
    let mut rs_t = traffic!("lvsd_rs", "real server");
    let mut active = Family::new(
        "lvsd_rs_active_connections",
        Kind::Gauge,
        "Active connections of the real server (IPVS).",
    );
    let mut inactive = Family::new(
        "lvsd_rs_inactive_connections",
        Kind::Gauge,
        "Inactive connections of the real server (IPVS).",
    );
    let mut persistent = Family::new(
        "lvsd_rs_persistent_connections",
        Kind::Gauge,
        "Persistence templates of the real server (IPVS).",
    );
    let mut kweight = Family::new(
        "lvsd_rs_ipvs_weight",
        Kind::Gauge,
        "Weight of the real server in the kernel IPVS table.",
    );
    if let Ok(listing) = &listing {
        for s in &listing.services {
            let l = service_labels(&s.service.key, &rt.cfg);
            vs_t.add(&l, &s.stats);
            for d in &s.destinations {
                let mut dl = l.clone();
                dl.push(("rs", names::rs_name(d.dest.addr, d.dest.port)));
                rs_t.add(&dl, &d.stats);
                active.add(dl.clone(), d.counters.active_conns as f64);
                inactive.add(dl.clone(), d.counters.inact_conns as f64);
                persistent.add(dl.clone(), d.counters.persist_conns as f64);
                kweight.add(dl, d.dest.weight as f64);
            }
        }
    }
    out.extend(vs_t.into_families());
    out.extend(rs_t.into_families());
    out.extend([active, inactive, persistent, kweight]);

    let mut up = Family::new(
        "lvsd_rs_up",
        Kind::Gauge,
        "1 if all checkers of the real server are up.",
    );
    let mut weight = Family::new(
        "lvsd_rs_weight",
        Kind::Gauge,
        "Effective weight of the real server (configured plus dynamic).",
    );
    let mut admin = Family::new(
        "lvsd_rs_admin_state",
        Kind::Gauge,
        "1 for the operator's admin state of the real server (enabled, drain, disabled).",
    );
    let mut quorum = Family::new(
        "lvsd_vs_quorum_up",
        Kind::Gauge,
        "1 if the virtual server has quorum.",
    );
    let status = crate::control::status::virtual_servers(&rt.cfg, &rt.director, &rt.desired());
    for v in &status {
        let l: Labels = vec![("vs", v.vs.clone()), ("protocol", v.protocol.clone())];
        quorum.add(l.clone(), if v.quorum_up { 1.0 } else { 0.0 });
        for r in &v.real_servers {
            let mut rl = l.clone();
            rl.push(("rs", r.rs.clone()));
            let is_up = r.state == crate::control::protocol::RsState::Up;
            up.add(rl.clone(), if is_up { 1.0 } else { 0.0 });
            weight.add(rl.clone(), r.effective_weight as f64);
            for (name, st) in [
                ("enabled", AdminState::Enabled),
                ("drain", AdminState::Drain),
                ("disabled", AdminState::Disabled),
            ] {
                let mut al = rl.clone();
                al.push(("state", name.to_string()));
                admin.add(al, if r.admin == st { 1.0 } else { 0.0 });
            }
        }
    }
    out.extend([up, weight, admin, quorum]);

    let mut results = Family::new(
        "lvsd_check_results_total",
        Kind::Counter,
        "Check attempts of the real server's checkers, by result.",
    );
    let mut latency = Family::new(
        "lvsd_check_duration_seconds",
        Kind::Summary,
        "Duration of check attempts of the real server's checkers.",
    );
    let check_stats = rt.check_stats();
    let mut stats: Vec<_> = check_stats.iter().collect();
    stats.sort_by(|a, b| a.0.cmp(b.0));
    let by_label: HashMap<String, (String, String)> = rt
        .cfg
        .virtual_servers
        .iter()
        .map(|v| {
            (
                crate::daemon::runtime::vs_label(v),
                (
                    names::vs_name(v),
                    names::protocol_name(v.protocol.value).to_string(),
                ),
            )
        })
        .collect();
    for ((vs_label, rs), st) in stats {
        let Some((vs, protocol)) = by_label.get(vs_label) else {
            continue;
        };
        let l: Labels = vec![
            ("vs", vs.clone()),
            ("protocol", protocol.clone()),
            ("rs", rs.clone()),
        ];
        let mut pass = l.clone();
        pass.push(("result", "pass".into()));
        results.add(pass, st.pass as f64);
        let mut fail = l.clone();
        fail.push(("result", "fail".into()));
        results.add(fail, st.fail as f64);
        latency.add_summary(l, st.latency_sum, st.pass + st.fail);
    }
    out.extend([results, latency]);

    out.push(counter(
        "lvsd_reconcile_runs_total",
        "Reconciles of the kernel table (events, drift repair, reloads).",
        rt.stats.runs,
    ));
    out.push(counter(
        "lvsd_reconcile_operations_total",
        "IPVS operations sent by reconciles.",
        rt.stats.operations,
    ));
    out.push(counter(
        "lvsd_reconcile_failures_total",
        "IPVS operations that failed, and table reads that failed.",
        rt.stats.failures,
    ));
    out.push(counter(
        "lvsd_reloads_total",
        "Configuration reloads applied.",
        rt.reloads.count,
    ));
    out.push(counter(
        "lvsd_reload_failures_total",
        "Configuration reloads refused because the new configuration had errors.",
        rt.reloads.failures,
    ));
    render_text(&out)
}

#[cfg(test)]
mod vrrp_tests {
    use super::*;
    use crate::vrrp::engine::InstanceStatus;
    use crate::vrrp::fsm::State;

    #[test]
    fn vrrp_instance_metrics() {
        let st = InstanceStatus {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: 51,
            state: State::Master,
            priority: 150,
            effective_priority: 90,
            why: vec![],
            fault: None,
            master: None,
            last_transition_unix_ms: None,
            last_cause: None,
            transitions: 3,
            adverts_sent: 40,
            adverts_received: 2,
            send_errors: 1,
            drops: [("ttl".to_string(), 5u64)].into_iter().collect(),
        };
        let text = render_text(&vrrp_families(&[st]));
        for line in [
            "lvsd_vrrp_state{instance=\"VI_1\",vrid=\"51\",state=\"MASTER\"} 1",
            "lvsd_vrrp_state{instance=\"VI_1\",vrid=\"51\",state=\"BACKUP\"} 0",
            "lvsd_vrrp_priority{instance=\"VI_1\",vrid=\"51\",kind=\"effective\"} 90",
            "lvsd_vrrp_transitions_total{instance=\"VI_1\",vrid=\"51\"} 3",
            "lvsd_vrrp_adverts_dropped_total{instance=\"VI_1\",vrid=\"51\",reason=\"ttl\"} 5",
            "# TYPE lvsd_vrrp_send_errors_total counter",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }
}
