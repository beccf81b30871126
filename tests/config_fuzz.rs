//! Property tests: the front end (preprocessor, lexer, block tree, builder)
//! never panics, whatever the input, and reports positions inside the input.

use std::path::Path;

use lvsd::config::{load_str, LoadOptions, PreprocessOptions};
use proptest::prelude::*;

fn opts() -> LoadOptions {
    LoadOptions {
        preprocess: PreprocessOptions {
            config_id: "lb1".into(),
            random_seed: 3,
            max_expanded_lines: 20_000,
        },
        ..Default::default()
    }
}

/// Fragments that exercise every grammar feature when shuffled together.
const PIECES: &[&str] = &[
    "virtual_server",
    "real_server",
    "10.0.0.1",
    "80",
    "{",
    "}",
    "\n",
    " ",
    "\t",
    "\"",
    "#",
    "!",
    "\\\n",
    "$X=",
    "$X",
    "${X}",
    "${_RANDOM 1 9}",
    "@lb1",
    "@^lb1",
    "~SEQ(N,1,3)",
    "~LST(A,1,2)",
    "${N}",
    "weight",
    "-1",
    "HTTP_GET",
    "url",
    "path",
    "/",
    "digest",
    "lb_algo",
    "rr",
    "lb_kind",
    "TUN",
    "type",
    "gue",
    "port",
    "protocol",
    "TCP",
    "virtual_server_group",
    "g",
    "fwmark",
    "1",
    "10.0.0.1-5",
    "10.0.0.0/30",
    "group",
    "vrrp_instance",
    "VI",
    "virtual_ipaddress",
    "192.168.1.1/24",
    "dev",
    "track_script",
    "vrrp_script",
    "script",
    "include",
    "/nonexistent/*.conf",
    "global_defs",
    "MISC_CHECK",
    "misc_path",
    "UDP_CHECK",
    "require_reply",
    "0x",
    "quorum",
    "sorry_server",
    "2001:db8::1",
    "persistence_granularity",
    "64",
    "~SEQx(",
    ")",
    ",",
    "\r\n",
    "é",
    "\u{0}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn never_panics_on_token_soup(idx in proptest::collection::vec(0..PIECES.len(), 0..120)) {
        let text: String = idx.iter().map(|&i| PIECES[i]).collect::<Vec<_>>().join(" ");
        let l = load_str(Path::new("fuzz.conf"), &text, &opts());
        let lines = text.lines().count() as u32 + 2;
        for d in l.diagnostics.items() {
            if let Some(loc) = d.loc {
                prop_assert!(loc.line <= lines, "line {} beyond input of {} lines", loc.line, lines);
            }
        }
        let _ = l.render_diagnostics();
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let l = load_str(Path::new("fuzz.conf"), &text, &opts());
        let _ = l.render_diagnostics();
    }
}

#[test]
fn self_doubling_definition_is_bounded() {
    let text = "$X=${X}${X}\nreal_server $X\n";
    let l = load_str(Path::new("bomb.conf"), text, &opts());
    assert!(l
        .render_diagnostics()
        .contains("longer than 65536 characters"));
}

#[test]
fn runaway_expansion_is_bounded() {
    let text = "~SEQ(A,1,3000) ~SEQ(B,1,3000) $Z=${A}\n";
    let l = load_str(Path::new("bomb.conf"), text, &opts());
    let text = l.render_diagnostics();
    assert!(
        text.contains("expansions produce more than 20000 lines"),
        "{text}"
    );
}
