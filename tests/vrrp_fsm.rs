//! The VRRP state machine, event by event, on an injected clock: every RFC
//! event and timer, keepalived's preemption semantics, and lvsd's
//! make-before-break stop and split-brain re-announcement.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use lvsd::vrrp::fsm::{master_down_interval, skew, Action, Cause, Fsm, FsmConfig, State};
use lvsd::vrrp::packet::Version;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cfg(priority: u8) -> FsmConfig {
    FsmConfig {
        version: Version::V2,
        vrid: 51,
        priority,
        advert_int: Duration::from_secs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        local_addr: ip("10.0.0.2"),
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        gated: false,
    }
}

const S: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn advert(p: u8) -> Action {
    Action::SendAdvert { priority: p }
}

/// Runs the timers until `until`, collecting actions with their times.
fn run(f: &mut Fsm, t0: Instant, until: Duration) -> Vec<(Duration, Action)> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let Some(d) = f.next_deadline() else { break };
        if d > t0 + until {
            break;
        }
        for a in f.on_timer(d) {
            out.push((d - t0, a));
        }
    }
    out
}

#[test]
fn timer_formulas_match_the_rfc_table() {
    // vrrp.md §1.6: v2 prio 100 -> 3.609 s; v3 @100 ms prio 254 -> 300.8 ms.
    assert_eq!(
        master_down_interval(Version::V2, 100, S),
        Duration::from_micros(3_609_375)
    );
    assert_eq!(
        master_down_interval(Version::V3, 254, ms(100)),
        Duration::from_nanos(300_781_250)
    );
    assert_eq!(
        skew(Version::V2, 150, ms(100)),
        Duration::from_micros(414_062)
    );
    assert_eq!(
        skew(Version::V3, 1, ms(10)),
        Duration::from_nanos(9_960_937)
    );
}

#[test]
fn backup_becomes_master_after_master_down_interval() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(100), t0);
    let a = f.start(t0);
    assert!(matches!(
        a.as_slice(),
        [Action::Transition {
            from: State::Initialize,
            to: State::Backup,
            cause: Cause::Startup
        }]
    ));
    assert_eq!(
        f.next_deadline(),
        Some(t0 + Duration::from_micros(3_609_375))
    );
    let acts = run(&mut f, t0, Duration::from_secs(5));
    let at = Duration::from_micros(3_609_375);
    assert_eq!(acts[0], (at, advert(100)));
    assert_eq!(acts[1], (at, Action::TakeVips));
    assert!(matches!(
        &acts[2],
        (
            _,
            Action::Transition {
                to: State::Master,
                cause: Cause::MasterDown,
                ..
            }
        )
    ));
    // Then one advert per second.
    assert_eq!(acts[3], (at + S, advert(100)));
    assert_eq!(f.state(), State::Master);
}

#[test]
fn owner_is_master_at_once() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(255), t0);
    let a = f.start(t0);
    assert_eq!(a[1], advert(255));
    assert_eq!(a[2], Action::TakeVips);
    assert_eq!(f.state(), State::Master);
    // The owner's priority never changes.
    assert!(f.set_effective_priority(t0, 100).is_empty());
    assert_eq!(f.effective_priority(), 255);
}

#[test]
fn adverts_from_a_higher_master_keep_a_backup_backup() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(100), t0);
    f.start(t0);
    for i in 1..=10u32 {
        let now = t0 + S * i;
        assert!(f.on_advert(now, ip("10.0.0.1"), 150, S).is_empty());
        assert!(f.on_timer(now).is_empty());
    }
    assert_eq!(f.state(), State::Backup);
    // The master dies after its advert at 10 s: take over 3.609 s later.
    let acts = run(&mut f, t0, Duration::from_secs(20));
    assert_eq!(acts[0].0, S * 10 + Duration::from_micros(3_609_375));
}

#[test]
fn priority_zero_makes_the_backup_take_over_after_skew() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(100), t0);
    f.start(t0);
    f.on_advert(t0 + S, ip("10.0.0.1"), 150, S);
    f.on_advert(t0 + S * 2, ip("10.0.0.1"), 0, S);
    assert_eq!(
        f.next_deadline(),
        Some(t0 + S * 2 + skew(Version::V2, 100, S))
    );
    let acts = run(&mut f, t0, Duration::from_secs(3));
    assert_eq!(acts[0].0, S * 2 + Duration::from_micros(609_375));
    assert_eq!(f.state(), State::Master);
}

#[test]
fn preemption_lower_priority_master_is_overtaken() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(150), t0);
    f.start(t0);
    // A lower-priority master's adverts are discarded; the timer runs out.
    let mut became = None;
    for i in 1..=10u32 {
        let now = t0 + S * i;
        f.on_advert(now, ip("10.0.0.1"), 100, S);
        if f.on_timer(now).contains(&Action::TakeVips) && became.is_none() {
            became = Some(i);
        }
        if let Some(d) = f.next_deadline() {
            if d < now + S
                && f.state() == State::Backup
                && f.on_timer(d).contains(&Action::TakeVips)
            {
                became = Some(i);
            }
        }
    }
    assert_eq!(f.state(), State::Master);
    // 3 + (256-150)/256 = 3.414 s after start.
    assert_eq!(became, Some(3));
}

#[test]
fn nopreempt_backup_accepts_a_lower_master() {
    let t0 = Instant::now();
    let mut c = cfg(150);
    c.preempt = false;
    let mut f = Fsm::new(c, t0);
    f.start(t0);
    for i in 1..=20u32 {
        let now = t0 + S * i;
        f.on_advert(now, ip("10.0.0.1"), 100, S);
        f.on_timer(now);
    }
    assert_eq!(f.state(), State::Backup);
}

#[test]
fn preempt_delay_holds_preemption() {
    let t0 = Instant::now();
    let mut c = cfg(150);
    c.preempt_delay = Duration::from_secs(5);
    let mut f = Fsm::new(c, t0);
    f.start(t0);
    let mut took = None;
    for i in 1..=1200u32 {
        let now = t0 + ms(10) * i;
        if i % 100 == 0 {
            f.on_advert(now, ip("10.0.0.1"), 100, S);
        }
        if f.on_timer(now).contains(&Action::TakeVips) {
            took = Some(now - t0);
            break;
        }
    }
    // The last advert accepted is the one at 4 s (at 5 s the delay is over):
    // preemption 3.414 s later, instead of 3.414 s after start.
    let took = took.expect("preempted");
    assert!(took >= ms(7400) && took <= ms(7430), "{took:?}");
}

#[test]
fn master_yields_to_higher_priority_and_to_equal_priority_higher_address() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(255), t0);
    f.start(t0);
    let mut c = cfg(100);
    c.local_addr = ip("10.0.0.2");
    let mut g = Fsm::new(c, t0);
    g.start(t0);
    run(&mut g, t0, Duration::from_secs(4));
    assert_eq!(g.state(), State::Master);
    // Equal priority, lower address: we stay and re-assert (advert + GARP).
    let a = g.on_advert(t0 + ms(4100), ip("10.0.0.1"), 100, S);
    assert_eq!(a, vec![advert(100), Action::Announce]);
    // Equal priority, higher address: yield.
    let a = g.on_advert(t0 + ms(4200), ip("10.0.0.3"), 100, S);
    assert_eq!(a[0], Action::ReleaseVips);
    assert_eq!(g.state(), State::Backup);
    // Higher priority from anyone: yield (from master again).
    run(&mut g, t0, Duration::from_secs(9));
    assert_eq!(g.state(), State::Master);
    let a = g.on_advert(t0 + Duration::from_secs(9), ip("10.0.0.1"), 200, S);
    assert!(a.contains(&Action::ReleaseVips));
    assert!(matches!(
        g.last_transition,
        Some((
            _,
            State::Backup,
            Cause::HigherPriority { priority: 200, .. }
        ))
    ));
}

#[test]
fn lower_prio_no_advert_and_higher_prio_send_advert() {
    let t0 = Instant::now();
    let mut c = cfg(255);
    c.lower_prio_no_advert = true;
    c.higher_prio_send_advert = true;
    c.priority = 200;
    let mut f = Fsm::new(c, t0);
    f.start(t0);
    run(&mut f, t0, Duration::from_secs(4));
    assert_eq!(f.state(), State::Master);
    assert_eq!(
        f.on_advert(t0 + ms(4100), ip("10.0.0.1"), 100, S),
        vec![Action::Announce]
    );
    let a = f.on_advert(t0 + ms(4200), ip("10.0.0.1"), 250, S);
    assert_eq!(a[0], advert(200));
    assert_eq!(a[1], Action::ReleaseVips);
}

#[test]
fn master_answers_a_resignation_at_once() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(255), t0);
    f.start(t0);
    let a = f.on_advert(t0 + ms(300), ip("10.0.0.9"), 0, S);
    assert_eq!(a, vec![advert(255)]);
    assert_eq!(f.next_deadline(), Some(t0 + ms(1300)));
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    let t0 = Instant::now();
    let mut c = cfg(100);
    c.version = Version::V3;
    let mut f = Fsm::new(c, t0);
    f.start(t0);
    f.on_advert(t0 + ms(100), ip("10.0.0.1"), 200, ms(200));
    assert_eq!(f.master_adver_int(), ms(200));
    assert_eq!(
        f.next_deadline(),
        Some(t0 + ms(100) + ms(600) + skew(Version::V3, 100, ms(200)))
    );
    // v2 keeps its own.
    let mut f2 = Fsm::new(cfg(100), t0);
    f2.start(t0);
    f2.on_advert(t0, ip("10.0.0.1"), 200, ms(2000));
    assert_eq!(f2.master_adver_int(), S);
}

#[test]
fn graceful_stop_is_make_before_break() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(255), t0);
    f.start(t0);
    let a = f.shutdown(t0 + ms(500));
    assert_eq!(a[0], advert(0));
    assert_eq!(f.state(), State::Leaving);
    // No ReleaseVips yet; the new master's advert releases.
    assert!(!a.contains(&Action::ReleaseVips));
    // The new master's advert: ours stay for the hand-over grace (it adds
    // its VIPs and announces them after its advert), then go.
    let a = f.on_advert(t0 + ms(1100), ip("10.0.0.3"), 100, S);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(f.state(), State::Leaving);
    assert_eq!(f.next_deadline(), Some(t0 + ms(1300)));
    // No more resignations meanwhile; a second advert changes nothing.
    assert!(f
        .on_advert(t0 + ms(1200), ip("10.0.0.3"), 100, S)
        .is_empty());
    assert!(f.on_timer(t0 + ms(1299)).is_empty());
    let a = f.on_timer(t0 + ms(1300));
    assert_eq!(a[0], Action::ReleaseVips);
    assert!(matches!(
        &a[1],
        Action::Transition {
            to: State::Stopped,
            cause: Cause::HandedOver { .. },
            ..
        }
    ));
    assert_eq!(f.state(), State::Stopped);
    assert!(f.next_deadline().is_none());

    // Nobody answers: resignation repeated each interval, released at 3 x.
    let mut g = Fsm::new(cfg(255), t0);
    g.start(t0);
    g.shutdown(t0);
    let acts = run(&mut g, t0, Duration::from_secs(10));
    let adverts: Vec<_> = acts.iter().filter(|(_, a)| *a == advert(0)).collect();
    assert_eq!(adverts.len(), 2);
    let rel = acts
        .iter()
        .find(|(_, a)| *a == Action::ReleaseVips)
        .expect("released");
    assert_eq!(rel.0, Duration::from_secs(3));
    assert_eq!(g.state(), State::Stopped);
    // A backup stops at once.
    let mut b = Fsm::new(cfg(100), t0);
    b.start(t0);
    b.shutdown(t0);
    assert_eq!(b.state(), State::Stopped);
}

#[test]
fn fault_from_master_resigns_and_recovery_waits_full_interval() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(255), t0);
    f.start(t0);
    let a = f.set_fault(t0 + S, Some("interface eth0 down".into()));
    assert_eq!(a[0], advert(0));
    assert_eq!(a[1], Action::ReleaseVips);
    assert_eq!(f.state(), State::Fault);
    assert!(f.next_deadline().is_none());
    // Adverts change nothing in Fault.
    assert!(f.on_advert(t0 + S * 2, ip("10.0.0.1"), 100, S).is_empty());
    let a = f.set_fault(t0 + S * 3, None);
    assert!(matches!(
        a.last(),
        Some(Action::Transition {
            to: State::Backup,
            cause: Cause::FaultCleared,
            ..
        })
    ));
    // Owner: MDI with priority 255 = 3 + 1/256 s.
    assert_eq!(
        f.next_deadline(),
        Some(t0 + S * 3 + Duration::from_micros(3_003_906))
    );
}

#[test]
fn effective_priority_rescales_the_down_timer_and_is_advertised() {
    let t0 = Instant::now();
    let mut f = Fsm::new(cfg(100), t0);
    f.start(t0);
    // 100 -> 250: MDI shrinks to 3.023 s; the pending timer is capped there.
    f.set_effective_priority(t0, 250);
    assert_eq!(
        f.next_deadline(),
        Some(t0 + Duration::from_micros(3_023_437))
    );
    run(&mut f, t0, Duration::from_secs(4));
    assert_eq!(f.state(), State::Master);
    let a = f.set_effective_priority(t0 + Duration::from_secs(4), 80);
    assert_eq!(a, vec![advert(80)]);
    // Clamped to 1..254.
    f.set_effective_priority(t0 + Duration::from_secs(4), 0);
    assert_eq!(f.effective_priority(), 1);
}

#[test]
fn gate_holds_master_until_opened() {
    let t0 = Instant::now();
    let mut c = cfg(100);
    c.gated = true;
    let mut f = Fsm::new(c, t0);
    f.start(t0);
    let acts = run(&mut f, t0, Duration::from_secs(6));
    assert_eq!(
        acts.iter()
            .filter(|(_, a)| *a == Action::WantsMaster)
            .count(),
        1
    );
    assert_eq!(f.state(), State::Backup);
    assert!(f.wants_master());
    let a = f.set_gate(t0 + Duration::from_secs(6), true);
    assert!(a.contains(&Action::TakeVips));
    assert_eq!(f.state(), State::Master);
    let a = f.force_backup(t0 + Duration::from_secs(7), "G1");
    assert_eq!(a[0], advert(0));
    assert!(a.contains(&Action::ReleaseVips));
    assert_eq!(f.state(), State::Backup);
}
