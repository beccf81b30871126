//! The reconciler against the in-memory kernel: minimal operations,
//! idempotence, ownership, drift repair, partial failures, and a property:
//! after one reconcile the owned part equals the desired table and foreign
//! services are untouched.

use std::collections::HashSet;
use std::net::IpAddr;

use lvsd_ipvs::diff::plan;
use lvsd_ipvs::memory::MemoryIpvs;
use lvsd_ipvs::owned;
use lvsd_ipvs::reconcile::reconcile;
use lvsd_ipvs::{
    Destination, ForwardMethod, IpvsBackend, Operation, Protocol, Service, ServiceEntry,
    ServiceKey, Table,
};
use proptest::prelude::*;

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn entry(key: ServiceKey, sched: &str, dests: &[(&str, u32)]) -> ServiceEntry {
    let mut s = Service::new(key);
    s.scheduler = sched.into();
    ServiceEntry {
        service: s,
        destinations: dests
            .iter()
            .map(|(a, w)| {
                let mut d = Destination::new(a.parse().unwrap(), key.fwmark() as u16 + 80);
                d.weight = *w;
                d.forward = ForwardMethod::Route;
                d
            })
            .collect(),
    }
}

fn desired() -> Table {
    Table {
        services: vec![
            entry(
                tcp("10.0.0.1", 80),
                "wlc",
                &[("10.0.1.1", 1), ("10.0.1.2", 2)],
            ),
            entry(tcp("10.0.0.1", 443), "rr", &[("10.0.1.1", 1)]),
        ],
    }
}

fn sorted(t: &Table) -> Table {
    let mut t = t.clone();
    t.sort();
    t
}

#[test]
fn from_empty_then_idempotent() {
    let mut k = MemoryIpvs::default();
    let mut own = HashSet::new();
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert_eq!(r.applied, 5);
    assert!(r.is_clean());
    assert_eq!(sorted(k.table()), sorted(&desired()));
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert_eq!(r.applied, 0, "second run does nothing");
    assert_eq!(own.len(), 2);
}

#[test]
fn weight_change_is_exactly_one_edit() {
    let mut k = MemoryIpvs::default();
    let mut own = HashSet::new();
    reconcile(&mut k, &desired(), &mut own).unwrap();
    let g = k.generation(&tcp("10.0.0.1", 80));
    let mut want = desired();
    want.services[0].destinations[1].weight = 5;
    let ops = plan(&want, k.table(), &own);
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Operation::EditDest(_, d) if d.weight == 5));
    reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(
        k.generation(&tcp("10.0.0.1", 80)),
        g,
        "service not recreated"
    );
}

#[test]
fn scheduler_change_edits_in_place_protocol_change_recreates() {
    let mut k = MemoryIpvs::default();
    let mut own = HashSet::new();
    reconcile(&mut k, &desired(), &mut own).unwrap();
    let mut want = desired();
    want.services[1].service.scheduler = "wrr".into();
    let ops = plan(&want, k.table(), &own);
    assert_eq!(ops.len(), 1);
    assert!(matches!(ops[0], Operation::EditService(_)));
    reconcile(&mut k, &want, &mut own).unwrap();

    let udp = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 443,
    };
    let mut want2 = want.clone();
    want2.services[1] = entry(udp, "wrr", &[("10.0.1.1", 1)]);
    let ops = plan(&want2, k.table(), &own);
    assert!(ops.contains(&Operation::DelService(tcp("10.0.0.1", 443))));
    assert!(ops
        .iter()
        .any(|o| matches!(o, Operation::AddService(s) if s.key == udp)));
    reconcile(&mut k, &want2, &mut own).unwrap();
    assert_eq!(sorted(k.table()), sorted(&want2));
}

#[test]
fn foreign_services_are_left_alone_and_removed_owned_ones_deleted() {
    let mut k = MemoryIpvs::default();
    let foreign = entry(tcp("192.0.2.9", 25), "lc", &[("10.9.9.9", 1)]);
    k.apply(&[
        Operation::AddService(foreign.service.clone()),
        Operation::AddDest(foreign.service.key, foreign.destinations[0].clone()),
    ]);
    let mut own = HashSet::new();
    reconcile(&mut k, &desired(), &mut own).unwrap();
    let mut want = desired();
    want.services.pop();
    reconcile(&mut k, &want, &mut own).unwrap();
    let t = k.table();
    assert!(
        t.find(&foreign.service.key).is_some(),
        "foreign service stays"
    );
    assert!(
        t.find(&tcp("10.0.0.1", 443)).is_none(),
        "dropped owned service deleted"
    );
    assert!(!own.contains(&tcp("10.0.0.1", 443)));
}

#[test]
fn drift_is_repaired() {
    let mut k = MemoryIpvs::default();
    let mut own = HashSet::new();
    reconcile(&mut k, &desired(), &mut own).unwrap();
    let key = tcp("10.0.0.1", 80);
    let d = desired().services[0].destinations[0].clone();
    k.apply(&[Operation::DelDest(key, d.key())]);
    let mut d2 = desired().services[0].destinations[1].clone();
    d2.weight = 9;
    k.apply(&[Operation::EditDest(key, d2)]);
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert_eq!(r.applied, 2);
    assert_eq!(sorted(k.table()), sorted(&desired()));
}

#[test]
fn missing_scheduler_fails_that_service_only() {
    let mut k = MemoryIpvs::default();
    let mut want = desired();
    want.services[1].service.scheduler = "twos".into();
    let mut own = HashSet::new();
    let r = reconcile(&mut k, &want, &mut own).unwrap();
    assert!(!r.is_clean());
    assert!(r
        .failed
        .iter()
        .any(|(_, e)| e.message == "scheduler module ip_vs_twos is not available"));
    assert!(k.table().find(&tcp("10.0.0.1", 80)).is_some());
    assert_eq!(
        k.table()
            .find(&tcp("10.0.0.1", 80))
            .unwrap()
            .destinations
            .len(),
        2
    );
}

#[test]
fn a_preexisting_desired_service_is_adopted_without_recreation() {
    let mut k = MemoryIpvs::default();
    let mut own = HashSet::new();
    reconcile(&mut k, &desired(), &mut own).unwrap();
    let g = k.generation(&tcp("10.0.0.1", 80));
    let mut fresh_owned = HashSet::new(); // lost record: restart
    let r = reconcile(&mut k, &desired(), &mut fresh_owned).unwrap();
    assert_eq!(r.applied, 0);
    assert_eq!(k.generation(&tcp("10.0.0.1", 80)), g);
    assert_eq!(fresh_owned.len(), 2);
}

#[test]
fn owned_record_round_trips_and_reports_bad_lines() {
    let dir = std::env::temp_dir().join(format!("lvsd-owned-{}", std::process::id()));
    let path = dir.join("owned");
    let mut set: HashSet<ServiceKey> = desired().services.iter().map(|e| e.service.key).collect();
    set.insert(ServiceKey::Fwmark {
        af: lvsd_ipvs::AddressFamily::Inet6,
        mark: 10,
    });
    set.insert(ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "2001:db8::1".parse::<IpAddr>().unwrap(),
        port: 53,
    });
    owned::save(&path, &set).unwrap();
    assert_eq!(owned::load(&path).unwrap(), set);
    std::fs::write(&path, "# lvsd owned services v1\nTCP 10.0.0.1:80\nHTTP x\n").unwrap();
    let e = owned::load(&path).unwrap_err().to_string();
    assert!(
        e.ends_with("owned:3: `HTTP` is not TCP, UDP, SCTP or FWM"),
        "{e}"
    );
    assert!(owned::load(&dir.join("missing")).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn large_identical_table_diffs_to_nothing() {
    let mut t = Table::default();
    for s in 0..2000u32 {
        let addr = IpAddr::from([10, 100 + (s / 250) as u8, (s % 250) as u8, 1]);
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port: 80,
        };
        let mut e = ServiceEntry {
            service: Service::new(key),
            destinations: Vec::new(),
        };
        for r in 0..20u8 {
            e.destinations.push(Destination::new(
                IpAddr::from([10, 200, (s % 250) as u8, r + 10]),
                80,
            ));
        }
        t.services.push(e);
    }
    let own: HashSet<ServiceKey> = t.services.iter().map(|e| e.service.key).collect();
    assert!(plan(&t, &t, &own).is_empty());
}

fn arb_table() -> impl Strategy<Value = Table> {
    let svc = (0u8..6, prop::sample::select(vec!["rr", "wlc", "sh"]));
    let dests = prop::collection::vec((0u8..6, 0u32..4), 0..5);
    prop::collection::vec((svc, dests), 0..6).prop_map(|v| {
        let mut t = Table::default();
        for ((a, sched), ds) in v {
            let key = tcp(&format!("10.0.0.{a}"), 80);
            if t.find(&key).is_some() {
                continue;
            }
            let mut e = entry(key, sched, &[]);
            for (d, w) in ds {
                let mut dest = Destination::new(IpAddr::from([10, 1, 0, d]), 80);
                dest.weight = w;
                if !e.destinations.iter().any(|x| x.key() == dest.key()) {
                    e.destinations.push(dest);
                }
            }
            t.services.push(e);
        }
        t
    })
}

proptest! {
    #[test]
    fn reconcile_converges_and_spares_foreign(
        desired in arb_table(), actual in arb_table(), foreign_octet in 100u8..110
    ) {
        let mut k = MemoryIpvs::default();
        let foreign = entry(tcp(&format!("10.0.0.{foreign_octet}"), 80), "lc", &[("10.9.9.9", 1)]);
        let mut setup = vec![
            Operation::AddService(foreign.service.clone()),
            Operation::AddDest(foreign.service.key, foreign.destinations[0].clone()),
        ];
        for e in &actual.services {
            setup.push(Operation::AddService(e.service.clone()));
            for d in &e.destinations {
                setup.push(Operation::AddDest(e.service.key, d.clone()));
            }
        }
        k.apply(&setup);
        // Everything from `actual` is owned (a previous run made it).
        let mut own: HashSet<ServiceKey> = actual.services.iter().map(|e| e.service.key).collect();
        let r = reconcile(&mut k, &desired, &mut own).unwrap();
        prop_assert!(r.is_clean(), "{:?}", r.failed);
        let mut got = k.table().clone();
        got.services.retain(|e| e.service.key != foreign.service.key);
        prop_assert_eq!(sorted(&got), sorted(&desired));
        prop_assert_eq!(k.table().find(&foreign.service.key), Some(&foreign));
        let again = reconcile(&mut k, &desired, &mut own).unwrap();
        prop_assert_eq!(again.applied, 0);
    }
}
