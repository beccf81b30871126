//! The runtime on the in-memory kernel: `lvs_flush` at start,
//! `lvs_timeouts` at start and reload, `lvs_flush_on_stop` (all / VS /
//! unset), draining of real servers removed by a reload (paused clock), and
//! an operator's admin state surviving reloads.

use std::path::Path;
use std::time::Duration;

use lvsd::config::{load_str, Config, LoadOptions};
use lvsd::daemon::runtime::Runtime;
use lvsd::director::state::{AdminState, Transition};
use lvsd_checkers::engine::Engine;
use lvsd_ipvs::fake::FakeIpvs;
use lvsd_ipvs::{Operation, Protocol, Service, ServiceKey, Timeouts};
use tokio::sync::mpsc::unbounded_channel;

fn config(global: &str, real_servers: &[(&str, u32)]) -> Config {
    let mut text = format!("global_defs {{\n{global}\n}}\nvirtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n");
    for (addr, w) in real_servers {
        text += &format!(" real_server {addr} 80 {{\n  weight {w}\n }}\n");
    }
    text += "}\n";
    let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    l.config
}

fn foreign() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "192.0.2.9".parse().unwrap(),
        port: 53,
    }
}

fn kernel_with_foreign() -> FakeIpvs {
    let mut k = FakeIpvs::default();
    k.apply_unlogged(&Operation::AddService(Service::new(foreign())))
        .unwrap();
    k
}

fn start(cfg: Config, kernel: FakeIpvs) -> Runtime<FakeIpvs> {
    let (tx, _rx) = unbounded_channel();
    let engine = Engine::new(tx, Box::new(|| 0.0));
    Runtime::start(cfg, kernel, None, engine).unwrap()
}

fn weights(rt: &mut Runtime<FakeIpvs>) -> Vec<(String, u32)> {
    let key = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 80,
    };
    rt.backend()
        .table()
        .find(&key)
        .map(|e| {
            e.destinations
                .iter()
                .map(|d| (d.addr.to_string(), d.weight))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn lvs_flush_empties_the_table_before_start() {
    let rt_keep = &mut start(config("", &[("10.0.0.2", 1)]), kernel_with_foreign());
    assert!(rt_keep.backend().table().find(&foreign()).is_some());
    assert_eq!(rt_keep.backend().flushes, 0);

    let rt = &mut start(
        config("lvs_flush", &[("10.0.0.2", 1)]),
        kernel_with_foreign(),
    );
    assert_eq!(rt.backend().flushes, 1);
    assert!(rt.backend().table().find(&foreign()).is_none());
    assert_eq!(weights(rt), vec![("10.0.0.2".into(), 1)]);
}

#[tokio::test]
async fn lvs_timeouts_at_start_and_reload() {
    let rt = &mut start(
        config("lvs_timeouts tcp 7200 udp 60", &[("10.0.0.2", 1)]),
        FakeIpvs::default(),
    );
    assert_eq!(
        rt.backend().timeouts,
        Timeouts {
            tcp: 7200,
            tcp_fin: 120,
            udp: 60
        }
    );
    rt.reload(config("lvs_timeouts tcpfin 30", &[("10.0.0.2", 1)]));
    assert_eq!(
        rt.backend().timeouts,
        Timeouts {
            tcp: 7200,
            tcp_fin: 30,
            udp: 60
        }
    );
}

#[tokio::test]
async fn flush_on_stop_modes() {
    // Unset: only what lvsd owns goes.
    let rt = &mut start(config("", &[("10.0.0.2", 1)]), kernel_with_foreign());
    rt.shutdown(false);
    assert_eq!(rt.backend().table().services.len(), 1);
    assert!(rt.backend().table().find(&foreign()).is_some());

    // VS: configured services deleted in one operation each (no RS deletes).
    let rt = &mut start(
        config("lvs_flush_on_stop VS", &[("10.0.0.2", 1), ("10.0.0.3", 1)]),
        kernel_with_foreign(),
    );
    rt.backend().clear_log();
    let r = rt.shutdown(false);
    assert_eq!(r.applied, 1);
    assert!(matches!(rt.backend().log[..], [Operation::DelService(_)]));
    assert!(rt.backend().table().find(&foreign()).is_some());
    assert_eq!(rt.backend().table().services.len(), 1);

    // All: the whole table, foreign services too.
    let rt = &mut start(
        config("lvs_flush_on_stop", &[("10.0.0.2", 1)]),
        kernel_with_foreign(),
    );
    rt.shutdown(false);
    assert_eq!(rt.backend().flushes, 1);
    assert!(rt.backend().table().services.is_empty());

    // --keep-ipvs wins over lvs_flush_on_stop.
    let rt = &mut start(
        config("lvs_flush_on_stop", &[("10.0.0.2", 1)]),
        kernel_with_foreign(),
    );
    rt.shutdown(true);
    assert_eq!(rt.backend().table().services.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn removed_real_server_is_drained_then_deleted() {
    let rt = &mut start(
        config("", &[("10.0.0.2", 3), ("10.0.0.3", 5)]),
        FakeIpvs::default(),
    );
    rt.set_drain_removed(Some(Duration::from_secs(30)));
    rt.reload(config("", &[("10.0.0.2", 3)]));
    assert_eq!(
        weights(rt),
        vec![("10.0.0.2".into(), 3), ("10.0.0.3".into(), 0)],
        "weight 0 first"
    );
    let deadline = rt.next_drain_deadline().expect("a drain is pending");

    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(!rt.expire_drains(tokio::time::Instant::now()));
    rt.reconcile();
    assert_eq!(weights(rt).len(), 2, "still draining at 29 s");

    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(tokio::time::Instant::now() >= deadline);
    assert!(rt.expire_drains(tokio::time::Instant::now()));
    rt.reconcile();
    assert_eq!(weights(rt), vec![("10.0.0.2".into(), 3)], "deleted after");
    assert!(rt.next_drain_deadline().is_none());
}

#[tokio::test(start_paused = true)]
async fn without_drain_option_removal_is_immediate_and_readding_cancels_drain() {
    let rt = &mut start(
        config("", &[("10.0.0.2", 3), ("10.0.0.3", 5)]),
        FakeIpvs::default(),
    );
    rt.reload(config("", &[("10.0.0.2", 3)]));
    assert_eq!(weights(rt), vec![("10.0.0.2".into(), 3)]);

    rt.set_drain_removed(Some(Duration::from_secs(30)));
    rt.reload(config("", &[("10.0.0.2", 3), ("10.0.0.3", 5)]));
    rt.reload(config("", &[("10.0.0.2", 3)]));
    assert_eq!(weights(rt)[1], ("10.0.0.3".into(), 0));
    // Added back during its grace: its configured weight wins.
    rt.reload(config("", &[("10.0.0.2", 3), ("10.0.0.3", 5)]));
    assert_eq!(weights(rt)[1], ("10.0.0.3".into(), 5));
}

#[tokio::test]
async fn admin_state_survives_reloads_until_cleared() {
    let rt = &mut start(
        config("", &[("10.0.0.2", 3), ("10.0.0.3", 5)]),
        FakeIpvs::default(),
    );
    rt.set_admin("10.0.0.1:80", "10.0.0.2:80", AdminState::Drain)
        .unwrap();
    rt.set_admin("10.0.0.1:80", "10.0.0.3:80", AdminState::Disabled)
        .unwrap();
    rt.reconcile();
    assert_eq!(weights(rt), vec![("10.0.0.2".into(), 0)]);

    // A reload that changes a weight, then one that removes and re-adds
    // the disabled server: admin states stay.
    rt.reload(config("", &[("10.0.0.2", 4), ("10.0.0.3", 5)]));
    assert_eq!(weights(rt), vec![("10.0.0.2".into(), 0)]);
    rt.reload(config("", &[("10.0.0.2", 4)]));
    rt.reload(config("", &[("10.0.0.2", 4), ("10.0.0.3", 6)]));
    assert_eq!(weights(rt), vec![("10.0.0.2".into(), 0)]);

    rt.set_admin("10.0.0.1:80", "10.0.0.2:80", AdminState::Enabled)
        .unwrap();
    rt.set_admin("10.0.0.1:80", "10.0.0.3:80", AdminState::Enabled)
        .unwrap();
    rt.reconcile();
    assert_eq!(
        weights(rt),
        vec![("10.0.0.2".into(), 4), ("10.0.0.3".into(), 6)]
    );
    assert!(rt
        .set_admin("10.0.0.1:80", "10.0.0.9:80", AdminState::Drain)
        .is_err());
}

#[tokio::test]
async fn disabling_below_quorum_queues_a_quorum_transition() {
    let text = "virtual_server 10.0.0.1 80 {\n quorum 2\n real_server 10.0.0.2 80 {\n  weight 1\n }\n real_server 10.0.0.3 80 {\n  weight 1\n }\n}\n";
    let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    let rt = &mut start(l.config, FakeIpvs::default());
    rt.transitions.clear();
    rt.set_admin("10.0.0.1:80", "10.0.0.3:80", AdminState::Disabled)
        .unwrap();
    assert_eq!(rt.transitions, vec![Transition::QuorumDown { vs: 0 }]);
}

#[tokio::test]
async fn startup_notifications() {
    // Quorum not reachable at start: reported even without rs_init_notifies.
    let text =
        "virtual_server 10.0.0.1 80 {\n quorum 3\n real_server 10.0.0.2 80 {\n  weight 1\n }\n\
                real_server 10.0.0.3 80 {\n  weight 1\n  TCP_CHECK {\n   alpha\n  }\n }\n}\n";
    let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    let rt = &mut start(l.config, FakeIpvs::default());
    rt.startup_transitions();
    assert_eq!(rt.transitions, vec![Transition::QuorumDown { vs: 0 }]);

    // rs_init_notifies: every real server's initial state, then quorum.
    let text = format!("global_defs {{\n rs_init_notifies\n}}\n{text}");
    let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    let rt = &mut start(l.config, FakeIpvs::default());
    rt.startup_transitions();
    assert_eq!(
        rt.transitions,
        vec![
            Transition::RealServerUp { vs: 0, rs: 0 },
            Transition::RealServerDown {
                vs: 0,
                rs: 1,
                reason: None
            },
            Transition::QuorumDown { vs: 0 },
        ]
    );
}
