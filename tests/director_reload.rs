//! Reload and restart: what survives, what restarts, what changes.

use std::path::Path;

use lvsd::config::{load_str, Config, LoadOptions};
use lvsd::director::migrate::{adopt, reload};
use lvsd::director::state::{AdminState, CheckerId, Director};
use lvsd_ipvs::format::save_table;

fn config(text: &str) -> Config {
    let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    l.config
}

fn conf(rs11_weight: u32, rs12_check: &str, extra_rs: &str) -> Config {
    config(&format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
         real_server 10.0.0.11 80 {{\n  weight {rs11_weight}\n  TCP_CHECK {{\n   connect_timeout 2\n  }}\n }}\n\
         real_server 10.0.0.12 80 {{\n  weight 1\n  {rs12_check}\n }}\n{extra_rs}}}\n"
    ))
}

fn id(rs: usize) -> CheckerId {
    CheckerId {
        vs: 0,
        rs,
        checker: 0,
    }
}

const MISC: &str = "MISC_CHECK {\n   misc_path \"/bin/check v1\"\n  }";
const MISC_FIXED: &str = "MISC_CHECK {\n   misc_path \"/bin/check v2\"\n  }";

#[test]
fn unchanged_checkers_keep_state_and_weight_changes_apply() {
    let old = conf(3, MISC, "");
    let mut d = Director::new(&old, 0);
    d.set_checker(&old, id(1), false, None, Some("exit 1".into()), 5);
    d.set_admin(&old, 0, 0, AdminState::Drain, 6);
    let new = conf(7, MISC, "");
    let r = reload(&old, &d, &new, 10);
    let st = &r.virtual_servers[0].real_servers;
    assert!(!st[1].alive(), "the failed MISC_CHECK keeps its state");
    assert_eq!(st[1].since, 5);
    assert_eq!(st[1].last_reason.as_deref(), Some("exit 1"));
    assert_eq!(
        st[0].admin,
        AdminState::Drain,
        "admin state survives reloads"
    );
    // The weight change is in the desired table (drained: 0 until enabled).
    let mut r = r;
    r.set_admin(&new, 0, 0, AdminState::Enabled, 11);
    assert_eq!(
        save_table(&r.desired(&new)),
        "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 7\n"
    );
}

#[test]
fn a_fixed_check_script_is_a_new_checker_and_brings_its_server_back() {
    // keepalived #1720: after a reload with a fixed script the RS stayed out.
    let old = conf(1, MISC, "");
    let mut d = Director::new(&old, 0);
    d.set_checker(&old, id(1), false, None, None, 1);
    let new = conf(1, MISC_FIXED, "");
    let r = reload(&old, &d, &new, 2);
    let st = &r.virtual_servers[0].real_servers[1];
    assert!(
        st.alive(),
        "a new checker starts up (start-up rule), re-adding the server"
    );
}

#[test]
fn new_alpha_checker_does_not_pull_an_up_server() {
    let old = conf(1, "", "");
    let d = Director::new(&old, 0);
    let new = conf(1, "TCP_CHECK {\n   alpha\n  }", "");
    let r = reload(&old, &d, &new, 1);
    assert!(r.virtual_servers[0].real_servers[1].alive());
}

#[test]
fn new_real_servers_follow_the_start_up_rule() {
    let old = conf(1, "", "");
    let d = Director::new(&old, 0);
    let new = conf(
        1,
        "",
        " real_server 10.0.0.13 80 {\n  TCP_CHECK {\n   alpha\n  }\n }\n",
    );
    let r = reload(&old, &d, &new, 1);
    assert!(!r.virtual_servers[0].real_servers[2].alive());
}

#[test]
fn restart_adopts_the_kernel_table_so_nothing_changes() {
    let cfg = config(
        "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n alpha\n\
         real_server 10.0.0.11 80 {\n  weight 2\n  TCP_CHECK {\n  }\n }\n\
         real_server 10.0.0.12 80 {\n  weight 1\n  TCP_CHECK {\n  }\n }\n}\n",
    );
    // What a previous run had programmed: both up.
    let mut before = Director::new(&cfg, 0);
    before.set_checker(&cfg, id(0), true, None, None, 1);
    before.set_checker(&cfg, id(1), true, None, None, 1);
    let kernel = before.desired(&cfg);
    // A cold start (alpha) would withdraw both; adoption keeps them.
    assert_eq!(
        save_table(&Director::new(&cfg, 2).desired(&cfg)),
        "-A -t 10.0.0.1:80 -s rr\n"
    );
    let adopted = adopt(&cfg, &kernel, 2);
    assert_eq!(adopted.desired(&cfg), kernel);
}
