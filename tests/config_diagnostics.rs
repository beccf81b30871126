//! Malformed keepalived.conf inputs: each must produce exactly the expected
//! `file:line:col: severity: message` (first line of the diagnostic), once.

use std::path::Path;

use lvsd::config::{load_str, LoadOptions, Loaded, PreprocessOptions};

fn load(text: &str) -> Loaded {
    let opts = LoadOptions {
        preprocess: PreprocessOptions {
            config_id: "lb1".into(),
            random_seed: 7,
            ..Default::default()
        },
        ..Default::default()
    };
    load_str(Path::new("t.conf"), text, &opts)
}

/// The first line of every diagnostic, in source order.
fn heads(l: &Loaded) -> Vec<String> {
    l.render_diagnostics()
        .lines()
        .filter(|line| !line.starts_with(' '))
        .map(str::to_string)
        .collect()
}

const VS_HEAD: &str = "virtual_server 10.0.0.1 80 {\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n";

struct Case {
    name: &'static str,
    body: &'static str,
    expect: &'static [&'static str],
    exit: i32,
}

const CASES: &[Case] = &[
    Case {
        name: "unknown keyword suggests the closest",
        body: "  real_server 10.0.0.2 80 {\n    wieght 2\n  }\n}\n",
        expect: &["t.conf:6:5: error: unknown keyword `wieght` in real_server"],
        exit: 5,
    },
    Case {
        name: "extra tokens on a line",
        body: "  real_server 10.0.0.2 80 {\n    weight 2 3\n  }\n}\n",
        expect: &["t.conf:6:14: error: unexpected extra argument `3` after `weight`"],
        exit: 5,
    },
    Case {
        name: "negative weight names the range",
        body: "  real_server 10.0.0.2 80 {\n    weight -1\n  }\n}\n",
        expect: &["t.conf:6:12: error: weight: -1 is out of range (allowed: 0 to 2147483647)"],
        exit: 5,
    },
    Case {
        name: "bad address",
        body: "  real_server 10.0.0.300 80 {\n    weight 1\n  }\n}\n",
        expect: &["t.conf:5:15: error: `10.0.0.300` is not an IPv4 or IPv6 address"],
        exit: 5,
    },
    Case {
        name: "bad port",
        body: "  real_server 10.0.0.2 70000 {\n  }\n}\n",
        expect: &["t.conf:5:24: error: `70000` is not a port (allowed: 0 to 65535)"],
        exit: 5,
    },
    Case {
        name: "bad scheduler",
        body: "  lb_algo fastest\n  real_server 10.0.0.2 80 {\n  }\n}\n",
        expect: &["t.conf:5:11: error: `fastest` is not a scheduler (allowed: rr wrr lc wlc lblc sh mh dh fo ovf lblcr sed nq twos)"],
        exit: 5,
    },
    Case {
        name: "digest length",
        body: "  real_server 10.0.0.2 80 {\n    HTTP_GET {\n      url {\n        path /\n        digest abc123\n      }\n    }\n  }\n}\n",
        expect: &["t.conf:9:16: error: digest `abc123` is not an MD5 digest: expected 32 hex characters, found 6"],
        exit: 5,
    },
    Case {
        name: "unclosed block names its opener",
        body: "  real_server 10.0.0.2 80 {\n    weight 1\n",
        expect: &[
            "t.conf:1:1: error: `virtual_server` block is never closed",
            "t.conf:5:3: error: `real_server` block is never closed",
        ],
        exit: 5,
    },
    Case {
        name: "stray closing brace",
        body: "  real_server 10.0.0.2 80 {\n  }\n}\n}\n",
        expect: &["t.conf:8:1: error: unexpected `}`: no block is open here"],
        exit: 5,
    },
    Case {
        name: "bad timer",
        body: "  delay_loop soon\n  real_server 10.0.0.2 80 {\n  }\n}\n",
        expect: &["t.conf:5:14: error: `soon` is not a time in seconds (expected e.g. `3` or `1.5`)"],
        exit: 5,
    },
    Case {
        name: "unterminated quote",
        body: "  real_server 10.0.0.2 80 {\n    notify_up \"/bin/true\n  }\n}\n",
        expect: &["t.conf:6:15: error: unterminated quoted string (missing closing `\"`)"],
        exit: 5,
    },
    Case {
        name: "sh-port needs sh",
        body: "  sh-port\n  real_server 10.0.0.2 80 {\n  }\n}\n",
        expect: &["t.conf:5:3: error: `sh-port` needs `lb_algo sh` (this virtual_server uses rr)"],
        exit: 5,
    },
    Case {
        name: "ops needs UDP",
        body: "  ops\n  real_server 10.0.0.2 80 {\n  }\n}\n",
        expect: &["t.conf:5:3: error: `ops` (one-packet scheduling) needs `protocol UDP`"],
        exit: 5,
    },
    Case {
        name: "DR forces the real server port (warning only)",
        body: "  real_server 10.0.0.2 8080 {\n  }\n}\n",
        expect: &["t.conf:5:3: warning: DR forwarding cannot change the port: real_server port 8080 replaced by the virtual_server port 80"],
        exit: 0,
    },
    Case {
        name: "duplicate real server",
        body: "  real_server 10.0.0.2 80 {\n  }\n  real_server 10.0.0.2 80 {\n  }\n}\n",
        expect: &["t.conf:7:3: error: duplicate real_server 10.0.0.2:80 (first defined at t.conf:5:3)"],
        exit: 5,
    },
    Case {
        name: "HTTP_GET without url",
        body: "  real_server 10.0.0.2 80 {\n    HTTP_GET {\n    }\n  }\n}\n",
        expect: &["t.conf:6:5: error: HTTP_GET needs at least one `url { path ... }` block"],
        exit: 5,
    },
    Case {
        name: "regex that does not compile",
        body: "  real_server 10.0.0.2 80 {\n    HTTP_GET {\n      url {\n        path /\n        regex \"(unclosed\"\n      }\n    }\n  }\n}\n",
        expect: &["t.conf:9:15: error: regex `(unclosed` does not compile"],
        exit: 5,
    },
    Case {
        name: "status code out of range",
        body: "  real_server 10.0.0.2 80 {\n    HTTP_GET {\n      url {\n        path /\n        status_code 200 700\n      }\n    }\n  }\n}\n",
        expect: &["t.conf:9:25: error: `700` is not an HTTP status code (allowed: 100 to 599)"],
        exit: 5,
    },
];

#[test]
fn malformed_inputs_give_exact_positions_and_messages() {
    let mut failures = Vec::new();
    for case in CASES {
        let text = format!("{VS_HEAD}{}", case.body);
        let l = load(&text);
        let got = heads(&l);
        let matches = got.len() == case.expect.len()
            && got
                .iter()
                .zip(case.expect.iter())
                .all(|(g, e)| g.starts_with(e));
        if !matches || l.diagnostics.exit_code() != case.exit {
            failures.push(format!(
                "{}:\n  expected (exit {}): {:#?}\n  got (exit {}): {:#?}",
                case.name,
                case.exit,
                case.expect,
                l.diagnostics.exit_code(),
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_block_is_skipped_whole_and_reported_once() {
    let l = load(&format!(
        "{VS_HEAD}  unknown_block {{\n    real_server 10.9.9.9 80 {{\n    }}\n  }}\n  real_server 10.0.0.2 80 {{\n  }}\n}}\n"
    ));
    assert_eq!(
        heads(&l),
        ["t.conf:5:3: error: unknown keyword `unknown_block` in virtual_server; its block is skipped"]
    );
    let vs = &l.config.virtual_servers[0];
    assert_eq!(vs.real_servers.len(), 1);
    assert_eq!(vs.real_servers[0].addr.to_string(), "10.0.0.2");
}

#[test]
fn typo_in_global_defs_suggests_the_keyword() {
    let l = load("global_defs {\n  stmp_connect_timeout 30\n}\n");
    let text = l.render_diagnostics();
    assert!(text
        .starts_with("t.conf:2:3: error: unknown keyword `stmp_connect_timeout` in global_defs\n"));
    assert!(
        text.contains("did you mean `smtp_connect_timeout`?"),
        "{text}"
    );
}

#[test]
fn each_error_is_reported_once() {
    let l = load(&format!(
        "{VS_HEAD}  real_server 10.0.0.2 80 {{\n    wieght 1\n  }}\n}}\n"
    ));
    assert_eq!(l.diagnostics.error_count(), 1);
}

#[test]
fn vrrp_garp_interval_zero_is_accepted() {
    let l = load("global_defs {\n  vrrp_garp_interval 0\n  vrrp_gna_interval 0\n}\n");
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
}

#[test]
fn strict_mode_rules() {
    let l = load(
        "global_defs {\n  vrrp_strict\n}\nvrrp_instance A {\n  interface lo\n  virtual_router_id 1\n  preempt_delay 5\n}\n\
         vrrp_instance B {\n  interface lo\n  virtual_router_id 2\n  virtual_ipaddress {\n    10.0.0.1\n  }\n  advert_int 1\n  preempt_delay 5\n}\n",
    );
    let h = heads(&l);
    assert!(
        h.iter()
            .any(|x| x
                .contains("error: strict mode (vrrp_strict) needs at least one virtual_ipaddress")),
        "{h:?}"
    );
    assert!(
        h.iter().any(
            |x| x.contains("warning: strict mode (vrrp_strict) does not allow `preempt_delay`")
        ),
        "{h:?}"
    );
    let b = l
        .config
        .vrrp_instances
        .iter()
        .find(|v| v.name == "B")
        .expect("B");
    assert!(b.preempt_delay.is_zero());
}

/// Duplicate real servers are found the same way in a small virtual
/// server (scanned) and a large one (hashed): each duplicate reported
/// once, naming where the first was defined.
#[test]
fn duplicate_real_servers_in_small_and_large_virtual_servers() {
    for count in [3usize, 64, 65, 300] {
        let mut body = String::new();
        for i in 0..count {
            body.push_str(&format!(
                "  real_server 10.0.{}.{} 80 {{\n  }}\n",
                i / 200,
                i % 200
            ));
        }
        // Line 5 holds the first real server; each takes two lines.
        body.push_str("  real_server 10.0.0.1 80 {\n  }\n");
        body.push_str(&format!(
            "  real_server 10.0.{}.{} 80 {{\n  }}\n}}\n",
            (count - 1) / 200,
            (count - 1) % 200
        ));
        let l = load(&format!("{VS_HEAD}{body}"));
        let dup_line = 5 + 2 * count;
        assert_eq!(
            heads(&l),
            [
                format!(
                    "t.conf:{dup_line}:3: error: duplicate real_server 10.0.0.1:80 (first defined at t.conf:7:3)"
                ),
                format!(
                    "t.conf:{}:3: error: duplicate real_server 10.0.{}.{}:80 (first defined at t.conf:{}:3)",
                    dup_line + 2,
                    (count - 1) / 200,
                    (count - 1) % 200,
                    5 + 2 * (count - 1)
                ),
            ],
            "{count} real servers"
        );
        let vs = &l.config.virtual_servers[0];
        assert_eq!(vs.real_servers.len(), count, "{count} real servers");
    }
}
