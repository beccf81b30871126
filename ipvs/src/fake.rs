//! `FakeIpvs`: a deterministic in-memory IPVS kernel for tests.
//!
//! It implements `IpvsBackend` with the kernel's checks, in the kernel's
//! order, and its errno (net/netfilter/ipvs/ip_vs_ctl.c, 6.1:
//! `ip_vs_genl_set_cmd`, `ip_vs_add_service`, `ip_vs_add_dest`, ...):
//!
//! | case | errno |
//! |---|---|
//! | IPv6 service or destination while IPv6 is disabled | `EAFNOSUPPORT` |
//! | edit/delete of a missing service, any destination op on one | `ESRCH` |
//! | adding an existing service or destination | `EEXIST` |
//! | unknown scheduler or persistence engine | `ENOENT` |
//! | edit/delete of a missing destination | `ENOENT` |
//! | weight or upper threshold above `INT_MAX`, lower > upper threshold | `ERANGE` |
//! | GUE tunnel with port 0, IPv6 prefix outside 1..=128, mixed-family non-tunnel destination | `EINVAL` |
//!
//! Deleting a service deletes its destinations. It also keeps what tests
//! need to observe the kernel: an operation log, per-service creation
//! generations, and per-entry counters and statistics (a re-created
//! service or destination starts from zero, an edited one keeps them), so
//! `listing()` gives what `ipvsadm -L` would show.

use std::collections::{BTreeSet, HashMap};

use crate::listing::{DestCounters, IpvsInfo, ListedDest, ListedService, Listing, Stats};
use crate::model::{
    svc_flags, AddressFamily, DestKey, Destination, ForwardMethod, Netmask, Service, ServiceEntry,
    ServiceKey, Table, TunnelType,
};
use crate::ops::errno::{EAFNOSUPPORT, EEXIST, EINVAL, ENOENT, ERANGE, ESRCH};
use crate::ops::{IpvsBackend, OpError, Operation, Timeouts};

/// The schedulers of the lab kernel (Debian 6.1: no `twos`).
pub const DEFAULT_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

/// Persistence engines the kernel knows (`ip_vs_pe_sip`).
pub const DEFAULT_PERSISTENCE_ENGINES: &[&str] = &["sip"];

/// Counters and statistics of one destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DestState {
    counters: DestCounters,
    stats: Stats,
}

/// An in-memory IPVS table with kernel semantics (see the module docs).
#[derive(Debug, Clone)]
pub struct FakeIpvs {
    table: Table,
    /// Position of each service in `table.services`.
    index: HashMap<ServiceKey, usize>,
    generations: HashMap<ServiceKey, u64>,
    next_generation: u64,
    service_stats: HashMap<ServiceKey, Stats>,
    dest_state: HashMap<(ServiceKey, DestKey), DestState>,
    /// What GET_INFO reports (1.2.1, 4096 by default).
    pub info: IpvsInfo,
    /// How many times the table was read (`dump`).
    pub dumps: usize,
    /// Scheduler modules available; remove one to simulate a kernel
    /// without it (`ENOENT`).
    pub schedulers: BTreeSet<String>,
    pub persistence_engines: BTreeSet<String>,
    /// `CONFIG_IP_VS_IPV6`; false makes IPv6 entries fail with `EAFNOSUPPORT`.
    pub ipv6: bool,
    /// Every operation applied through `IpvsBackend::apply`, successful or not.
    pub log: Vec<Operation>,
    /// Connection timeouts (`set_timeouts`; the kernel's defaults at first).
    pub timeouts: Timeouts,
    /// How many times the table was flushed (`IpvsBackend::flush`).
    pub flushes: usize,
}

impl Default for FakeIpvs {
    fn default() -> Self {
        FakeIpvs {
            table: Table::default(),
            index: HashMap::new(),
            generations: HashMap::new(),
            next_generation: 1,
            service_stats: HashMap::new(),
            dest_state: HashMap::new(),
            info: IpvsInfo {
                version: 0x010201,
                conn_tab_size: 4096,
            },
            dumps: 0,
            schedulers: DEFAULT_SCHEDULERS.iter().map(|s| s.to_string()).collect(),
            persistence_engines: DEFAULT_PERSISTENCE_ENGINES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ipv6: true,
            log: Vec::new(),
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            flushes: 0,
        }
    }
}

fn fail(errno: i32, message: impl Into<String>) -> OpError {
    OpError {
        errno,
        message: message.into(),
    }
}

impl FakeIpvs {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake already holding `table`, as if an operator had programmed it
    /// (nothing is logged).
    pub fn with_table(table: &Table) -> Result<Self, OpError> {
        let mut fake = Self::default();
        fake.seed(table)?;
        Ok(fake)
    }

    /// Programs `table` (adds its services and destinations) with the
    /// kernel's checks, without logging: the operator's own `ipvsadm`.
    pub fn seed(&mut self, table: &Table) -> Result<(), OpError> {
        for entry in &table.services {
            self.apply_one(&Operation::AddService(entry.service.clone()))?;
            for dest in &entry.destinations {
                self.apply_one(&Operation::AddDest(entry.service.key, dest.clone()))?;
            }
        }
        Ok(())
    }

    /// Applies one operation without logging it: a change made behind
    /// lvsd's back (drift).
    pub fn apply_unlogged(&mut self, op: &Operation) -> Result<(), OpError> {
        self.apply_one(op)
    }

    /// The table, in creation order (services) and insertion order (dests).
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Number of operations applied through `IpvsBackend::apply`.
    pub fn op_count(&self) -> usize {
        self.log.len()
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// Makes a scheduler unavailable (like the lab kernel lacking `twos`).
    pub fn remove_scheduler(&mut self, name: &str) {
        self.schedulers.remove(name);
    }

    /// A number that changes each time the service is (re)created; `None`
    /// if absent. Equal generations prove a service was not recreated.
    pub fn generation(&self, key: &ServiceKey) -> Option<u64> {
        self.generations.get(key).copied()
    }

    /// Sets a service's statistics; false if the service does not exist.
    pub fn set_service_stats(&mut self, key: &ServiceKey, stats: Stats) -> bool {
        match self.service_stats.get_mut(key) {
            Some(s) => {
                *s = stats;
                true
            }
            None => false,
        }
    }

    pub fn service_stats(&self, key: &ServiceKey) -> Option<Stats> {
        self.service_stats.get(key).copied()
    }

    /// Sets a destination's connection counters and statistics; false if
    /// it does not exist.
    pub fn set_dest_counters(
        &mut self,
        key: &ServiceKey,
        dest: &DestKey,
        counters: DestCounters,
        stats: Stats,
    ) -> bool {
        match self.dest_state.get_mut(&(*key, *dest)) {
            Some(s) => {
                *s = DestState { counters, stats };
                true
            }
            None => false,
        }
    }

    pub fn dest_counters(&self, key: &ServiceKey, dest: &DestKey) -> Option<(DestCounters, Stats)> {
        self.dest_state
            .get(&(*key, *dest))
            .map(|s| (s.counters, s.stats))
    }

    /// What `ipvsadm -L` would show (kernel order; the formatter sorts).
    pub fn listing(&self) -> Listing {
        let services = self
            .table
            .services
            .iter()
            .map(|entry| {
                let key = entry.service.key;
                ListedService {
                    service: entry.service.clone(),
                    stats: self.service_stats.get(&key).copied().unwrap_or_default(),
                    destinations: entry
                        .destinations
                        .iter()
                        .map(|dest| {
                            let state = self
                                .dest_state
                                .get(&(key, dest.key()))
                                .copied()
                                .unwrap_or_default();
                            ListedDest {
                                dest: dest.clone(),
                                counters: state.counters,
                                stats: state.stats,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        Listing {
            info: self.info,
            services,
        }
    }

    fn position(&self, key: &ServiceKey) -> Result<usize, OpError> {
        self.index
            .get(key)
            .copied()
            .ok_or_else(|| fail(ESRCH, format!("no such service: {key}")))
    }

    fn check_af(&self, af: AddressFamily) -> Result<(), OpError> {
        if af == AddressFamily::Inet6 && !self.ipv6 {
            return Err(fail(
                EAFNOSUPPORT,
                "IPv6 is not supported by this kernel's IPVS",
            ));
        }
        Ok(())
    }

    /// `ip_vs_add_service` / `ip_vs_edit_service` checks.
    fn check_service(&self, service: &Service) -> Result<(), OpError> {
        if service.scheduler != "none" && !self.schedulers.contains(&service.scheduler) {
            return Err(fail(
                ENOENT,
                format!("scheduler ip_vs_{} is not available", service.scheduler),
            ));
        }
        if let Some(pe) = &service.pe_name {
            if !self.persistence_engines.contains(pe) {
                return Err(fail(
                    ENOENT,
                    format!("persistence engine ip_vs_pe_{pe} is not available"),
                ));
            }
        }
        if service.key.af() == AddressFamily::Inet6 {
            if let Netmask::V6Prefix(prefix) = service.netmask {
                if !(1..=128).contains(&prefix) {
                    return Err(fail(EINVAL, "IPv6 prefix length out of 1..128"));
                }
            }
        }
        Ok(())
    }

    /// `ip_vs_genl_set_cmd` family rule and `ip_vs_add_dest` /
    /// `ip_vs_edit_dest` range checks.
    fn check_dest(&self, service_af: AddressFamily, dest: &Destination) -> Result<(), OpError> {
        let af = AddressFamily::of(&dest.addr);
        self.check_af(af)?;
        if af != service_af && dest.forward != ForwardMethod::Tunnel {
            return Err(fail(
                EINVAL,
                "a destination of another address family must tunnel",
            ));
        }
        if dest.weight > i32::MAX as u32 || dest.u_threshold > i32::MAX as u32 {
            return Err(fail(ERANGE, "weight or threshold out of range"));
        }
        if dest.l_threshold > dest.u_threshold {
            return Err(fail(ERANGE, "lower threshold is above the upper threshold"));
        }
        if dest.forward == ForwardMethod::Tunnel
            && dest.tunnel.kind == TunnelType::Gue
            && dest.tunnel.port == 0
        {
            return Err(fail(EINVAL, "a GUE tunnel needs a port"));
        }
        Ok(())
    }

    fn apply_one(&mut self, op: &Operation) -> Result<(), OpError> {
        let key = op.service_key();
        self.check_af(key.af())?;
        match op {
            Operation::AddService(service) => {
                if self.index.contains_key(&key) {
                    return Err(fail(EEXIST, format!("service already exists: {key}")));
                }
                self.check_service(service)?;
                let mut service = service.clone();
                service.flags &= !svc_flags::HASHED;
                self.index.insert(key, self.table.services.len());
                self.table.services.push(ServiceEntry {
                    service,
                    destinations: Vec::new(),
                });
                self.generations.insert(key, self.next_generation);
                self.next_generation += 1;
                self.service_stats.insert(key, Stats::default());
                Ok(())
            }
            Operation::EditService(service) => {
                let i = self.position(&key)?;
                self.check_service(service)?;
                let mut service = service.clone();
                service.flags &= !svc_flags::HASHED;
                self.table.services[i].service = service;
                Ok(())
            }
            Operation::DelService(_) => {
                let i = self.position(&key)?;
                let entry = self.table.services.remove(i);
                for dest in &entry.destinations {
                    self.dest_state.remove(&(key, dest.key()));
                }
                self.generations.remove(&key);
                self.service_stats.remove(&key);
                self.index = self
                    .table
                    .services
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.service.key, i))
                    .collect();
                Ok(())
            }
            Operation::AddDest(_, dest) => {
                let i = self.position(&key)?;
                self.check_dest(key.af(), dest)?;
                let entry = &mut self.table.services[i];
                if entry.destinations.iter().any(|d| d.key() == dest.key()) {
                    return Err(fail(
                        EEXIST,
                        format!("destination already exists: {key} -> {}", dest_text(dest)),
                    ));
                }
                entry.destinations.push(dest.clone());
                self.dest_state
                    .insert((key, dest.key()), DestState::default());
                Ok(())
            }
            Operation::EditDest(_, dest) => {
                let i = self.position(&key)?;
                self.check_dest(key.af(), dest)?;
                let entry = &mut self.table.services[i];
                let slot = entry
                    .destinations
                    .iter_mut()
                    .find(|d| d.key() == dest.key())
                    .ok_or_else(|| {
                        fail(
                            ENOENT,
                            format!("no such destination: {key} -> {}", dest_text(dest)),
                        )
                    })?;
                *slot = dest.clone();
                Ok(())
            }
            Operation::DelDest(_, dest_key) => {
                let i = self.position(&key)?;
                let entry = &mut self.table.services[i];
                let j = entry
                    .destinations
                    .iter()
                    .position(|d| &d.key() == dest_key)
                    .ok_or_else(|| fail(ENOENT, format!("no such destination: {key}")))?;
                entry.destinations.remove(j);
                self.dest_state.remove(&(key, *dest_key));
                Ok(())
            }
        }
    }
}

fn dest_text(dest: &Destination) -> String {
    crate::model::SocketText(dest.addr, dest.port).to_string()
}

impl IpvsBackend for FakeIpvs {
    fn dump(&mut self) -> Result<Table, OpError> {
        self.dumps += 1;
        Ok(self.table.clone())
    }

    fn apply(&mut self, ops: &[Operation]) -> Vec<Result<(), OpError>> {
        ops.iter()
            .map(|op| {
                self.log.push(op.clone());
                self.apply_one(op)
            })
            .collect()
    }

    fn listing(&mut self) -> Result<Listing, OpError> {
        Ok(FakeIpvs::listing(self))
    }

    fn flush(&mut self) -> Result<(), OpError> {
        self.table = Table::default();
        self.index.clear();
        self.generations.clear();
        self.service_stats.clear();
        self.dest_state.clear();
        self.flushes += 1;
        Ok(())
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), OpError> {
        for (slot, v) in [
            (&mut self.timeouts.tcp, t.tcp),
            (&mut self.timeouts.tcp_fin, t.tcp_fin),
            (&mut self.timeouts.udp, t.udp),
        ] {
            if v != 0 {
                *slot = v;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, Tunnel, TunnelCsum};

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    fn errno_of(fake: &mut FakeIpvs, op: Operation) -> i32 {
        match fake.apply(&[op]).pop() {
            Some(Err(e)) => e.errno,
            Some(Ok(())) => 0,
            None => -1,
        }
    }

    fn dest(addr: &str) -> Destination {
        Destination::new(addr.parse().unwrap(), 80)
    }

    #[test]
    fn service_errnos() {
        let k = tcp("10.0.0.1", 80);
        let mut fake = FakeIpvs::new();
        let svc = Service::new(k);
        assert_eq!(
            errno_of(&mut fake, Operation::EditService(svc.clone())),
            ESRCH
        );
        assert_eq!(errno_of(&mut fake, Operation::DelService(k)), ESRCH);
        assert_eq!(errno_of(&mut fake, Operation::AddService(svc.clone())), 0);
        assert_eq!(
            errno_of(&mut fake, Operation::AddService(svc.clone())),
            EEXIST
        );
        let mut twos = svc.clone();
        twos.scheduler = "twos".into();
        assert_eq!(
            errno_of(&mut fake, Operation::EditService(twos.clone())),
            ENOENT
        );
        let mut other = twos.clone();
        other.key = tcp("10.0.0.2", 80);
        assert_eq!(errno_of(&mut fake, Operation::AddService(other)), ENOENT);
        fake.schedulers.insert("twos".into());
        assert_eq!(errno_of(&mut fake, Operation::EditService(twos)), 0);
        let mut pe = svc.clone();
        pe.pe_name = Some("nope".into());
        assert_eq!(errno_of(&mut fake, Operation::EditService(pe)), ENOENT);
        assert_eq!(fake.op_count(), 8);
        assert_eq!(fake.table().services.len(), 1);
        assert_eq!(fake.table().services[0].service.scheduler, "twos");
    }

    #[test]
    fn removed_scheduler_is_enoent() {
        let mut fake = FakeIpvs::new();
        fake.remove_scheduler("wlc");
        let e = fake
            .apply(&[Operation::AddService(Service::new(tcp("10.0.0.1", 80)))])
            .pop()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.errno, ENOENT);
        assert!(e.message.contains("ip_vs_wlc"), "{}", e.message);
    }

    #[test]
    fn dest_errnos() {
        let k = tcp("10.0.0.1", 80);
        let mut fake = FakeIpvs::new();
        assert_eq!(
            errno_of(&mut fake, Operation::AddDest(k, dest("10.0.1.1"))),
            ESRCH
        );
        fake.apply(&[Operation::AddService(Service::new(k))]);
        assert_eq!(
            errno_of(&mut fake, Operation::EditDest(k, dest("10.0.1.1"))),
            ENOENT
        );
        assert_eq!(
            errno_of(&mut fake, Operation::DelDest(k, dest("10.0.1.1").key())),
            ENOENT
        );
        assert_eq!(
            errno_of(&mut fake, Operation::AddDest(k, dest("10.0.1.1"))),
            0
        );
        assert_eq!(
            errno_of(&mut fake, Operation::AddDest(k, dest("10.0.1.1"))),
            EEXIST
        );

        let mut heavy = dest("10.0.1.2");
        heavy.weight = i32::MAX as u32 + 1;
        assert_eq!(errno_of(&mut fake, Operation::AddDest(k, heavy)), ERANGE);
        let mut inverted = dest("10.0.1.2");
        inverted.u_threshold = 10;
        inverted.l_threshold = 11;
        assert_eq!(
            errno_of(&mut fake, Operation::AddDest(k, inverted.clone())),
            ERANGE
        );
        inverted.l_threshold = 10;
        assert_eq!(errno_of(&mut fake, Operation::AddDest(k, inverted)), 0);

        let mut gue = dest("10.0.1.3");
        gue.forward = ForwardMethod::Tunnel;
        gue.tunnel = Tunnel {
            kind: TunnelType::Gue,
            port: 0,
            csum: TunnelCsum::NoCsum,
        };
        assert_eq!(
            errno_of(&mut fake, Operation::AddDest(k, gue.clone())),
            EINVAL
        );
        gue.tunnel.port = 6080;
        assert_eq!(errno_of(&mut fake, Operation::AddDest(k, gue)), 0);

        let mut v6 = Destination::new("2001:db8::1".parse().unwrap(), 80);
        assert_eq!(
            errno_of(&mut fake, Operation::AddDest(k, v6.clone())),
            EINVAL
        );
        v6.forward = ForwardMethod::Tunnel;
        assert_eq!(errno_of(&mut fake, Operation::AddDest(k, v6)), 0);
    }

    #[test]
    fn ipv6_can_be_disabled() {
        let mut fake = FakeIpvs::new();
        fake.ipv6 = false;
        let k6 = tcp("2001:db8::100", 80);
        assert_eq!(
            errno_of(&mut fake, Operation::AddService(Service::new(k6))),
            EAFNOSUPPORT
        );
        let fw6 = ServiceKey::Fwmark {
            af: AddressFamily::Inet6,
            mark: 1,
        };
        assert_eq!(
            errno_of(&mut fake, Operation::AddService(Service::new(fw6))),
            EAFNOSUPPORT
        );
        let mut bad_prefix = Service::new(k6);
        bad_prefix.netmask = Netmask::V6Prefix(0);
        fake.ipv6 = true;
        assert_eq!(
            errno_of(&mut fake, Operation::AddService(bad_prefix)),
            EINVAL
        );
    }

    #[test]
    fn deleting_a_service_deletes_its_dests_and_counters() {
        let k = tcp("10.0.0.1", 80);
        let mut fake = FakeIpvs::new();
        fake.apply(&[
            Operation::AddService(Service::new(k)),
            Operation::AddDest(k, dest("10.0.1.1")),
        ]);
        let g = fake.generation(&k).unwrap();
        let c = DestCounters {
            active_conns: 5,
            inact_conns: 6,
            persist_conns: 7,
        };
        assert!(fake.set_dest_counters(&k, &dest("10.0.1.1").key(), c, Stats::default()));
        let mut edited = dest("10.0.1.1");
        edited.weight = 9;
        fake.apply(&[Operation::EditDest(k, edited)]);
        assert_eq!(
            fake.dest_counters(&k, &dest("10.0.1.1").key()).unwrap().0,
            c
        );
        assert_eq!(fake.listing().services[0].destinations[0].dest.weight, 9);

        fake.apply(&[
            Operation::DelService(k),
            Operation::AddService(Service::new(k)),
        ]);
        assert!(fake.table().services[0].destinations.is_empty());
        assert!(fake.dest_counters(&k, &dest("10.0.1.1").key()).is_none());
        assert_ne!(fake.generation(&k), Some(g));
    }

    #[test]
    fn hashed_flag_is_not_stored() {
        let k = tcp("10.0.0.1", 80);
        let mut svc = Service::new(k);
        svc.flags = svc_flags::HASHED | svc_flags::PERSISTENT;
        let fake = FakeIpvs::with_table(&Table {
            services: vec![ServiceEntry {
                service: svc,
                destinations: vec![],
            }],
        })
        .unwrap();
        assert_eq!(
            fake.table().services[0].service.flags,
            svc_flags::PERSISTENT
        );
        assert_eq!(fake.op_count(), 0);
    }
}

#[cfg(test)]
mod backend_extras {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn flush_empties_and_timeouts_keep_zero_values() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 80,
        };
        let mut fake = FakeIpvs::default();
        fake.apply_unlogged(&Operation::AddService(Service::new(key)))
            .unwrap();
        assert_eq!(IpvsBackend::listing(&mut fake).unwrap().services.len(), 1);
        IpvsBackend::flush(&mut fake).unwrap();
        assert!(fake.table().services.is_empty());
        assert_eq!(fake.flushes, 1);
        fake.set_timeouts(&Timeouts {
            tcp: 60,
            tcp_fin: 0,
            udp: 30,
        })
        .unwrap();
        assert_eq!(
            fake.timeouts,
            Timeouts {
                tcp: 60,
                tcp_fin: 120,
                udp: 30
            }
        );
    }
}
