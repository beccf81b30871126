//! Times `reconcile::plan` on 42,000 destinations (2,100 services x 20):
//! identical tables, then a kernel with every weight changed.
//! `cargo run --release -p lvsd-ipvs --example plan_bench`

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Instant;

use lvsd_ipvs::reconcile::plan;
use lvsd_ipvs::{Destination, Protocol, Service, ServiceEntry, ServiceKey, Table};

fn table(services: u32, dests: u8) -> Table {
    let mut t = Table::default();
    for s in 0..services {
        let addr = IpAddr::from([10, (s >> 16) as u8, (s >> 8) as u8, s as u8]);
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port: 80,
        };
        let destinations = (0..dests)
            .map(|r| Destination::new(IpAddr::from([172, 16, (s % 250) as u8, r + 1]), 80))
            .collect();
        t.services.push(ServiceEntry {
            service: Service::new(key),
            destinations,
        });
    }
    t
}

fn main() {
    let desired = table(2_100, 20);
    let owned: HashSet<ServiceKey> = desired.services.iter().map(|e| e.service.key).collect();
    let mut kernel = desired.clone();
    kernel.services.reverse();

    let start = Instant::now();
    let ops = plan(&desired, &kernel, &owned);
    println!("identical: {} ops in {:?}", ops.len(), start.elapsed());

    for e in &mut kernel.services {
        for d in &mut e.destinations {
            d.weight = 2;
        }
    }
    let start = Instant::now();
    let ops = plan(&desired, &kernel, &owned);
    println!(
        "all weights changed: {} ops in {:?}",
        ops.len(),
        start.elapsed()
    );

    let start = Instant::now();
    let ops = plan(&desired, &Table::default(), &HashSet::new());
    println!("from empty: {} ops in {:?}", ops.len(), start.elapsed());
}
