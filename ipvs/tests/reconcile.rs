//! The reconciler against `FakeIpvs`: minimal ordered operations,
//! idempotence, ownership (adoption, foreign services untouched, removal of
//! owned ones), drift repair, partial failures with per-service reports,
//! counters of untouched services kept, and a convergence property.

use std::collections::HashSet;
use std::net::IpAddr;

use lvsd_ipvs::fake::FakeIpvs;
use lvsd_ipvs::ops::errno::{EEXIST, ENOENT, ESRCH};
use lvsd_ipvs::reconcile::{
    apply, plan, reconcile, reconcile_with_options, ApplyOptions, ReconcileReport,
};
use lvsd_ipvs::{
    svc_flags, DestCounters, Destination, ForwardMethod, IpvsBackend, Operation, Protocol, Service,
    ServiceEntry, ServiceKey, Stats, Table,
};
use proptest::prelude::*;

fn key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    key(Protocol::Tcp, addr, port)
}

fn dest(addr: &str, weight: u32) -> Destination {
    let mut d = Destination::new(addr.parse().unwrap(), 80);
    d.weight = weight;
    d
}

fn entry(key: ServiceKey, sched: &str, dests: &[(&str, u32)]) -> ServiceEntry {
    let mut service = Service::new(key);
    service.scheduler = sched.into();
    ServiceEntry {
        service,
        destinations: dests.iter().map(|(a, w)| dest(a, *w)).collect(),
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

/// A fake that already holds `desired()`, owned, with an empty log.
fn converged() -> (FakeIpvs, HashSet<ServiceKey>) {
    let mut k = FakeIpvs::new();
    let mut own = HashSet::new();
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert!(r.is_clean(), "{:?}", r.failed);
    k.clear_log();
    (k, own)
}

#[test]
fn from_empty_adds_each_service_then_its_dests_then_is_idempotent() {
    let mut k = FakeIpvs::new();
    let mut own = HashSet::new();
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert!(r.is_clean());
    assert_eq!((r.applied, r.succeeded, r.tolerated), (5, 5, 0));
    let want = desired();
    let k80 = want.services[0].service.key;
    let k443 = want.services[1].service.key;
    assert_eq!(
        k.log,
        vec![
            Operation::AddService(want.services[0].service.clone()),
            Operation::AddDest(k80, dest("10.0.1.1", 1)),
            Operation::AddDest(k80, dest("10.0.1.2", 2)),
            Operation::AddService(want.services[1].service.clone()),
            Operation::AddDest(k443, dest("10.0.1.1", 1)),
        ]
    );
    assert_eq!(sorted(k.table()), sorted(&want));
    assert_eq!(own, HashSet::from([k80, k443]));
    assert_eq!(r.services[&k80].attempted, 3);
    assert_eq!(r.services[&k443].succeeded, 2);

    let again = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert_eq!(again, ReconcileReport::default());
    assert_eq!(k.op_count(), 5);
}

#[test]
fn weight_change_is_exactly_one_edit_dest() {
    let (mut k, mut own) = converged();
    let k80 = tcp("10.0.0.1", 80);
    let generation = k.generation(&k80);
    let mut want = desired();
    want.services[0].destinations[1].weight = 7;
    let r = reconcile(&mut k, &want, &mut own).unwrap();
    assert!(r.is_clean());
    assert_eq!(k.log, vec![Operation::EditDest(k80, dest("10.0.1.2", 7))]);
    assert_eq!(k.generation(&k80), generation);
    assert_eq!(sorted(k.table()), sorted(&want));
}

#[test]
fn forwarding_threshold_and_tunnel_changes_are_dest_edits() {
    let (mut k, mut own) = converged();
    let k80 = tcp("10.0.0.1", 80);
    let mut want = desired();
    want.services[0].destinations[0].forward = ForwardMethod::Masq;
    want.services[0].destinations[1].u_threshold = 100;
    want.services[1].destinations[0].forward = ForwardMethod::Tunnel;
    reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(k.op_count(), 3);
    assert!(k.log.iter().all(|op| matches!(op, Operation::EditDest(..))));
    assert_eq!(sorted(k.table()), sorted(&want));
    // Tunnel parameters alone are an edit too.
    k.clear_log();
    want.services[1].destinations[0].tunnel.kind = lvsd_ipvs::TunnelType::Gre;
    reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(k.op_count(), 1);
    assert!(k.generation(&k80).is_some());
}

#[test]
fn scheduler_or_persistence_change_is_one_edit_service() {
    let (mut k, mut own) = converged();
    let k443 = tcp("10.0.0.1", 443);
    let generation = k.generation(&k443);
    let mut want = desired();
    want.services[1].service.scheduler = "wrr".into();
    want.services[1].service.flags = svc_flags::PERSISTENT;
    want.services[1].service.timeout = 300;
    reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(
        k.log,
        vec![Operation::EditService(want.services[1].service.clone())]
    );
    assert_eq!(k.generation(&k443), generation);
    assert_eq!(sorted(k.table()), sorted(&want));
}

#[test]
fn protocol_change_is_delete_then_add() {
    let (mut k, mut own) = converged();
    let mut want = desired();
    let old = want.services[1].service.key;
    let new = key(Protocol::Udp, "10.0.0.1", 443);
    want.services[1].service.key = new;
    reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(
        k.log,
        vec![
            Operation::DelService(old),
            Operation::AddService(want.services[1].service.clone()),
            Operation::AddDest(new, dest("10.0.1.1", 1)),
        ]
    );
    assert_eq!(sorted(k.table()), sorted(&want));
    assert!(!own.contains(&old) && own.contains(&new));
}

#[test]
fn foreign_services_stay_and_removed_owned_ones_are_deleted() {
    let (mut k, mut own) = converged();
    let foreign = entry(tcp("192.0.2.1", 25), "lc", &[("192.0.2.10", 1)]);
    k.apply_unlogged(&Operation::AddService(foreign.service.clone()))
        .unwrap();
    k.apply_unlogged(&Operation::AddDest(
        foreign.service.key,
        foreign.destinations[0].clone(),
    ))
    .unwrap();
    let foreign_generation = k.generation(&foreign.service.key);

    let mut want = desired();
    let dropped = want.services.remove(1).service.key;
    want.services[0].destinations.remove(1);
    let r = reconcile(&mut k, &want, &mut own).unwrap();
    assert!(r.is_clean());
    // Destination deletions come before service deletions.
    assert_eq!(
        k.log,
        vec![
            Operation::DelDest(tcp("10.0.0.1", 80), dest("10.0.1.2", 1).key()),
            Operation::DelService(dropped),
        ]
    );
    assert_eq!(k.table().find(&foreign.service.key), Some(&foreign));
    assert_eq!(k.generation(&foreign.service.key), foreign_generation);
    assert!(!own.contains(&dropped));
    assert!(!own.contains(&foreign.service.key));
    // An empty desired table removes only what is owned.
    reconcile(&mut k, &Table::default(), &mut own).unwrap();
    assert_eq!(k.table().services, vec![foreign]);
    assert!(own.is_empty());
}

#[test]
fn a_preexisting_desired_service_is_adopted_not_recreated() {
    let mut k = FakeIpvs::with_table(&desired()).unwrap();
    let k80 = tcp("10.0.0.1", 80);
    let generation = k.generation(&k80);
    let mut want = desired();
    want.services[0].destinations[0].weight = 5;
    let mut own = HashSet::new(); // no record: first start, or record lost
    let r = reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(r.applied, 1);
    assert_eq!(k.generation(&k80), generation);
    assert_eq!(own.len(), 2);
}

#[test]
fn drift_is_repaired() {
    let (mut k, mut own) = converged();
    let k80 = tcp("10.0.0.1", 80);
    // Behind lvsd's back: a dest deleted, a weight changed, a service edited,
    // and a whole owned service deleted.
    let mut heavier = dest("10.0.1.1", 50);
    heavier.forward = ForwardMethod::Route;
    let mut lc = Service::new(k80);
    lc.scheduler = "lc".into();
    for op in [
        Operation::DelDest(k80, dest("10.0.1.2", 0).key()),
        Operation::EditDest(k80, heavier),
        Operation::EditService(lc),
        Operation::DelService(tcp("10.0.0.1", 443)),
    ] {
        k.apply_unlogged(&op).unwrap();
    }
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert!(r.is_clean());
    assert_eq!(r.applied, 5);
    assert_eq!(sorted(k.table()), sorted(&desired()));
    assert_eq!(reconcile(&mut k, &desired(), &mut own).unwrap().applied, 0);
}

#[test]
fn untouched_services_keep_their_counters() {
    let (mut k, mut own) = converged();
    let k80 = tcp("10.0.0.1", 80);
    let k443 = tcp("10.0.0.1", 443);
    let stats = Stats {
        conns: 6034,
        inpkts: 81246,
        ..Default::default()
    };
    let counters = DestCounters {
        active_conns: 37,
        inact_conns: 402,
        persist_conns: 0,
    };
    assert!(k.set_service_stats(&k80, stats));
    assert!(k.set_dest_counters(&k80, &dest("10.0.1.1", 0).key(), counters, stats));
    let mut want = desired();
    want.services[1].service.scheduler = "wrr".into();
    want.services[1].destinations.push(dest("10.0.1.9", 1));
    want.services[0].destinations[1].weight = 3; // the other dest of k80
    reconcile(&mut k, &want, &mut own).unwrap();
    assert_eq!(k.op_count(), 3);
    assert_eq!(k.service_stats(&k80), Some(stats));
    assert_eq!(
        k.dest_counters(&k80, &dest("10.0.1.1", 0).key()),
        Some((counters, stats))
    );
    let listing = k.listing();
    let listed = listing
        .services
        .iter()
        .find(|s| s.service.key == k80)
        .unwrap();
    assert_eq!(listed.stats, stats);
    assert!(k.service_stats(&k443).is_some());
}

#[test]
fn a_missing_scheduler_fails_only_that_service() {
    let mut k = FakeIpvs::new();
    k.remove_scheduler("rr"); // like the lab kernel lacking `twos`
    let mut own = HashSet::new();
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    let k80 = tcp("10.0.0.1", 80);
    let k443 = tcp("10.0.0.1", 443);
    assert!(!r.is_clean());
    assert_eq!((r.applied, r.succeeded), (5, 3));
    let bad = &r.services[&k443];
    assert_eq!((bad.attempted, bad.succeeded), (2, 0));
    assert_eq!(bad.failed[0].1.errno, ENOENT);
    assert!(bad.failed[0].1.message.contains("ip_vs_rr"));
    assert_eq!(bad.failed[1].1.errno, ESRCH); // its dest: no service
    assert!(r.services[&k80].failed.is_empty());
    assert_eq!(k.table().find(&k80).unwrap().destinations.len(), 2);
    assert!(k.table().find(&k443).is_none());
    // The failed service is not owned: nothing of it exists.
    assert_eq!(own, HashSet::from([k80]));
    // Once the module is there, the next reconcile finishes the job.
    k.schedulers.insert("rr".into());
    let r = reconcile(&mut k, &desired(), &mut own).unwrap();
    assert!(r.is_clean());
    assert_eq!(r.applied, 2);
    assert_eq!(sorted(k.table()), sorted(&desired()));
}

#[test]
fn races_are_tolerated_only_when_asked() {
    let (mut k, _) = converged();
    let stale_view = Table::default(); // as if dumped before another writer
    let ops = plan(&desired(), &stale_view, &HashSet::new());
    let tolerant = apply(&mut k, ops.clone(), ApplyOptions::default());
    assert!(tolerant.is_clean());
    assert_eq!((tolerant.succeeded, tolerant.tolerated), (5, 5));
    let strict = apply(
        &mut k,
        ops,
        ApplyOptions {
            tolerate_races: false,
        },
    );
    assert_eq!(strict.failed.len(), 5);
    assert!(strict.failed.iter().all(|(_, e)| e.errno == EEXIST));

    // Deleting what is already gone: ESRCH tolerated.
    let mut own = HashSet::from([tcp("10.0.0.1", 80)]);
    let kernel_view = k.table().clone();
    k.apply_unlogged(&Operation::DelService(tcp("10.0.0.1", 80)))
        .unwrap();
    let r = reconcile_with_options(
        &mut k,
        &Table::default(),
        &kernel_view,
        &mut own,
        ApplyOptions::default(),
    );
    assert!(r.is_clean());
    assert_eq!(r.tolerated, 1);
    assert!(own.is_empty());
}

#[test]
fn a_failed_delete_keeps_the_service_owned() {
    struct Refusing(FakeIpvs);
    impl IpvsBackend for Refusing {
        fn dump(&mut self) -> Result<Table, lvsd_ipvs::OpError> {
            self.0.dump()
        }
        fn apply(&mut self, ops: &[Operation]) -> Vec<Result<(), lvsd_ipvs::OpError>> {
            ops.iter()
                .map(|_| {
                    Err(lvsd_ipvs::OpError {
                        errno: 1,
                        message: "Operation not permitted".into(),
                    })
                })
                .collect()
        }
    }
    let (k, mut own) = converged();
    let mut refusing = Refusing(k);
    let r = reconcile(&mut refusing, &Table::default(), &mut own).unwrap();
    assert_eq!(r.failed.len(), 2);
    assert_eq!(own.len(), 2);
}

#[test]
fn plan_for_2000_services_of_20_dests_against_itself_is_empty() {
    let mut t = Table::default();
    for s in 0..2000u32 {
        let addr = IpAddr::from([10, 100 + (s / 250) as u8, (s % 250) as u8, 1]);
        let mut e = ServiceEntry {
            service: Service::new(ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr,
                port: 80,
            }),
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
    let mut kernel = t.clone();
    kernel.services.reverse();
    for e in &mut kernel.services {
        e.destinations.reverse();
        e.service.flags |= svc_flags::HASHED; // as the kernel reports it
    }
    assert!(plan(&t, &kernel, &own).is_empty());
    // And one changed weight among the 42,000 entries is one operation.
    kernel.services[1234].destinations[7].weight = 9;
    assert_eq!(plan(&t, &kernel, &own).len(), 1);
}

// ---- property: convergence and foreign services spared ----

fn arb_service(octet: u8) -> impl Strategy<Value = ServiceEntry> {
    let sched = prop::sample::select(vec!["rr", "wlc", "sh", "mh"]);
    let dests = prop::collection::vec((0u8..6, 0u32..4, any::<bool>(), 0u32..3), 0..5);
    (sched, any::<bool>(), dests).prop_map(move |(sched, persistent, ds)| {
        let mut e = entry(tcp(&format!("10.0.0.{octet}"), 80), sched, &[]);
        if persistent {
            e.service.flags = svc_flags::PERSISTENT;
            e.service.timeout = 300;
        }
        for (d, weight, masq, u) in ds {
            let mut dest = Destination::new(IpAddr::from([10, 1, 0, d]), 80);
            dest.weight = weight;
            dest.u_threshold = u * 100;
            if masq {
                dest.forward = ForwardMethod::Masq;
            }
            if !e.destinations.iter().any(|x| x.key() == dest.key()) {
                e.destinations.push(dest);
            }
        }
        e
    })
}

/// Services drawn from addresses 10.0.0.0..12 so tables overlap.
fn arb_table() -> impl Strategy<Value = Table> {
    prop::collection::btree_set(0u8..12, 0..8).prop_flat_map(|octets| {
        octets
            .into_iter()
            .map(arb_service)
            .collect::<Vec<_>>()
            .prop_map(|services| Table { services })
    })
}

proptest! {
    #[test]
    fn reconcile_converges_and_spares_foreign_services(
        desired in arb_table(),
        actual in arb_table(),
        owned_mask in any::<u16>(),
    ) {
        let mut k = FakeIpvs::with_table(&actual).unwrap();
        // Some of the actual services are lvsd's from an earlier run; the
        // others were made by an operator.
        let mut own: HashSet<ServiceKey> = actual
            .services
            .iter()
            .enumerate()
            .filter(|(i, _)| owned_mask & (1 << i) != 0)
            .map(|(_, e)| e.service.key)
            .collect();
        let desired_keys: HashSet<ServiceKey> =
            desired.services.iter().map(|e| e.service.key).collect();
        let foreign: Vec<ServiceEntry> = actual
            .services
            .iter()
            .filter(|e| !own.contains(&e.service.key) && !desired_keys.contains(&e.service.key))
            .cloned()
            .collect();
        let foreign_generations: Vec<Option<u64>> =
            foreign.iter().map(|e| k.generation(&e.service.key)).collect();

        let r = reconcile(&mut k, &desired, &mut own).unwrap();
        prop_assert!(r.is_clean(), "{:?}", r.failed);

        let mut owned_part = k.table().clone();
        owned_part.services.retain(|e| desired_keys.contains(&e.service.key));
        prop_assert_eq!(sorted(&owned_part), sorted(&desired));
        for (e, g) in foreign.iter().zip(&foreign_generations) {
            prop_assert_eq!(k.table().find(&e.service.key), Some(e));
            prop_assert_eq!(k.generation(&e.service.key), *g);
        }
        prop_assert_eq!(
            k.table().services.len(),
            desired.services.len() + foreign.len()
        );
        prop_assert_eq!(&own, &desired_keys);

        let before = k.op_count();
        let again = reconcile(&mut k, &desired, &mut own).unwrap();
        prop_assert_eq!(again.applied, 0);
        prop_assert_eq!(k.op_count(), before);
    }
}
