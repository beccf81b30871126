//! Director policy: checker results → desired IPVS table, through quorum
//! with hysteresis, inhibit_on_failure, alpha, sorry server, dynamic weights
//! and admin state. Pure: no kernel, no clock.

use std::path::Path;

use lvsd::config::{load_str, Config, LoadOptions};
use lvsd::director::state::{AdminState, CheckerId, Director, Transition};
use lvsd_ipvs::format::save_table;

fn config(text: &str) -> Config {
    let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    l.config
}

fn rs(n: u8, weight: u32, extra: &str) -> String {
    format!("real_server 10.0.0.{n} 80 {{\n weight {weight}\n {extra}\n TCP_CHECK {{\n }}\n}}\n")
}

fn vs(body: &str) -> String {
    format!("virtual_server 10.0.0.1 80 {{\n lb_algo wrr\n lb_kind DR\n protocol TCP\n{body}}}\n")
}

fn chk(rs: usize) -> CheckerId {
    CheckerId {
        vs: 0,
        rs,
        checker: 0,
    }
}

fn dests(d: &Director, cfg: &Config) -> String {
    save_table(&d.desired(cfg))
        .lines()
        .filter(|l| l.starts_with("-a"))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let addr = parts.nth(4).unwrap_or("");
            let w = l.rsplit(' ').next().unwrap_or("");
            format!("{addr}={w}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn down_removes_and_up_restores_without_inhibit() {
    let cfg = config(&vs(&(rs(11, 3, "") + &rs(12, 1, ""))));
    let mut d = Director::new(&cfg, 0);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=3 10.0.0.12:80=1");
    let t = d.set_checker(&cfg, chk(0), false, None, Some("refused".into()), 10);
    assert_eq!(
        t,
        [Transition::RealServerDown {
            vs: 0,
            rs: 0,
            reason: Some("refused".into())
        }]
    );
    assert_eq!(dests(&d, &cfg), "10.0.0.12:80=1");
    assert_eq!(d.virtual_servers[0].real_servers[0].since, 10);
    let t = d.set_checker(&cfg, chk(0), true, None, None, 20);
    assert_eq!(t, [Transition::RealServerUp { vs: 0, rs: 0 }]);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=3 10.0.0.12:80=1");
}

#[test]
fn inhibit_keeps_the_destination_at_weight_zero() {
    let cfg = config(&vs(&(String::from(" inhibit_on_failure\n")
        + &rs(11, 3, "")
        + &rs(12, 1, ""))));
    let mut d = Director::new(&cfg, 0);
    d.set_checker(&cfg, chk(1), false, None, None, 1);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=3 10.0.0.12:80=0");
}

#[test]
fn alpha_starts_down_and_joins_after_a_success() {
    let cfg = config(&vs(
        &(rs(11, 2, "alpha") + &rs(12, 1, "alpha\n inhibit_on_failure"))
    ));
    let mut d = Director::new(&cfg, 0);
    assert_eq!(dests(&d, &cfg), "10.0.0.12:80=0");
    d.set_checker(&cfg, chk(0), true, None, None, 1);
    d.set_checker(&cfg, chk(1), true, None, None, 1);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=2 10.0.0.12:80=1");
}

#[test]
fn all_checkers_must_be_up() {
    let two = "real_server 10.0.0.11 80 {\n weight 1\n TCP_CHECK {\n }\n HTTP_GET {\n  url {\n   path /\n  }\n }\n}\n";
    let cfg = config(&vs(two));
    let mut d = Director::new(&cfg, 0);
    let http = CheckerId {
        vs: 0,
        rs: 0,
        checker: 1,
    };
    d.set_checker(&cfg, http, false, None, None, 1);
    assert_eq!(dests(&d, &cfg), "");
    d.set_checker(&cfg, chk(0), false, None, None, 2);
    // TCP recovers, HTTP still down: still out.
    let t = d.set_checker(&cfg, chk(0), true, None, None, 3);
    assert!(t.is_empty());
    assert_eq!(dests(&d, &cfg), "");
    d.set_checker(&cfg, http, true, None, None, 4);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=1");
}

#[test]
fn quorum_with_hysteresis_and_the_sorry_server_swap_both_ways() {
    let body = String::from(" quorum 3\n hysteresis 1\n sorry_server 10.0.0.99 80\n")
        + &rs(11, 1, "")
        + &rs(12, 1, "")
        + &rs(13, 1, "")
        + &rs(14, 1, "");
    let cfg = config(&vs(&body));
    let mut d = Director::new(&cfg, 0);
    assert!(d.virtual_servers[0].quorum_up);
    // 4 live >= 3+1: up. Losing is at < 3-1 = 2.
    d.set_checker(&cfg, chk(0), false, None, None, 1);
    d.set_checker(&cfg, chk(1), false, None, None, 2);
    assert!(d.virtual_servers[0].quorum_up, "2 live is not < 2");
    assert_eq!(dests(&d, &cfg), "10.0.0.13:80=1 10.0.0.14:80=1");
    let t = d.set_checker(&cfg, chk(2), false, None, None, 3);
    assert!(t.contains(&Transition::QuorumDown { vs: 0 }));
    assert_eq!(
        dests(&d, &cfg),
        "10.0.0.99:80=1",
        "sorry server in, live RS out"
    );
    // Regaining needs 4 (= quorum + hysteresis).
    d.set_checker(&cfg, chk(0), true, None, None, 4);
    d.set_checker(&cfg, chk(1), true, None, None, 5);
    assert!(!d.virtual_servers[0].quorum_up, "3 live is not >= 4");
    assert_eq!(dests(&d, &cfg), "10.0.0.99:80=1");
    let t = d.set_checker(&cfg, chk(2), true, None, None, 6);
    assert!(t.contains(&Transition::QuorumUp { vs: 0 }));
    assert_eq!(
        dests(&d, &cfg),
        "10.0.0.11:80=1 10.0.0.12:80=1 10.0.0.13:80=1 10.0.0.14:80=1"
    );
}

#[test]
fn sorry_server_inhibit_stands_by_at_weight_zero() {
    let body = String::from(" sorry_server 10.0.0.99 80\n sorry_server_inhibit\n") + &rs(11, 1, "");
    let cfg = config(&vs(&body));
    let mut d = Director::new(&cfg, 0);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=1 10.0.0.99:80=0");
    d.set_checker(&cfg, chk(0), false, None, None, 1);
    assert_eq!(dests(&d, &cfg), "10.0.0.99:80=1");
}

#[test]
fn dynamic_weight_deltas_apply_and_clamp() {
    let cfg = config(&vs(&rs(11, 5, "")));
    let mut d = Director::new(&cfg, 0);
    d.set_checker(&cfg, chk(0), true, Some(3), None, 1);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=8");
    d.set_checker(&cfg, chk(0), true, Some(-100), None, 2);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=0");
}

#[test]
fn admin_drain_and_disable() {
    let cfg = config(&vs(&(rs(11, 2, "") + &rs(12, 1, ""))));
    let mut d = Director::new(&cfg, 0);
    d.set_admin(&cfg, 0, 0, AdminState::Drain, 1);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=0 10.0.0.12:80=1");
    d.set_admin(&cfg, 0, 0, AdminState::Disabled, 2);
    assert_eq!(dests(&d, &cfg), "10.0.0.12:80=1");
    d.set_admin(&cfg, 0, 0, AdminState::Enabled, 3);
    assert_eq!(dests(&d, &cfg), "10.0.0.11:80=2 10.0.0.12:80=1");
}

#[test]
fn alpha_with_sorry_server_starts_with_quorum_down() {
    let body = String::from(" alpha\n sorry_server 10.0.0.99 80\n") + &rs(11, 1, "");
    let cfg = config(&vs(&body));
    let d = Director::new(&cfg, 0);
    assert!(!d.virtual_servers[0].quorum_up);
    assert_eq!(dests(&d, &cfg), "10.0.0.99:80=1");
}
