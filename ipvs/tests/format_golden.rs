//! The ipvsadm renderers against real ipvsadm 1.31 output (tests/golden/,
//! copied verbatim from ipvs-netlink.md §2.2/§2.4): the same table must
//! print byte for byte, trailing blanks included.

use lvsd_ipvs::format::{self, list, save_listing, save_table, ListOptions};
use lvsd_ipvs::{
    svc_flags, AddressFamily, DestCounters, Destination, ForwardMethod, IpvsInfo, ListedDest,
    ListedService, Listing, Netmask, Protocol, Service, ServiceEntry, ServiceKey, Stats, Table,
    Tunnel, TunnelCsum, TunnelType,
};

const GOLDEN_LN: &str = include_str!("golden/ipvsadm-Ln.txt");
const GOLDEN_LN_STATS: &str = include_str!("golden/ipvsadm-Ln-stats.txt");
const GOLDEN_TUN_LINE: &str = include_str!("golden/ipvsadm-Ln-tun-info-line.txt");
const GOLDEN_SN: &str = include_str!("golden/ipvsadm-Sn.txt");

fn key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn service(
    key: ServiceKey,
    sched: &str,
    flags: u32,
    timeout: u32,
    mask: Option<Netmask>,
) -> Service {
    let mut s = Service::new(key);
    s.scheduler = sched.into();
    s.flags = flags;
    s.timeout = timeout;
    if let Some(m) = mask {
        s.netmask = m;
    }
    s
}

fn dest(addr: &str, port: u16, forward: ForwardMethod, weight: u32) -> Destination {
    let mut d = Destination::new(addr.parse().unwrap(), port);
    d.forward = forward;
    d.weight = weight;
    d
}

fn listed(d: Destination, active: u32, inact: u32) -> ListedDest {
    ListedDest {
        dest: d,
        counters: DestCounters {
            active_conns: active,
            inact_conns: inact,
            persist_conns: 0,
        },
        stats: Stats::default(),
    }
}

fn gue_dest() -> Destination {
    let mut d = dest("10.0.0.31", 0, ForwardMethod::Tunnel, 2);
    d.tunnel = Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        csum: TunnelCsum::Csum,
    };
    d
}

/// The harness table of §2.2, in the order ipvsadm printed it.
fn harness_listing() -> Listing {
    let fw10 = ServiceKey::Fwmark {
        af: AddressFamily::Inet,
        mark: 10,
    };
    let services = vec![
        (
            service(key(Protocol::Tcp, "192.168.10.100", 80), "wlc", 0, 0, None),
            vec![
                listed(dest("10.0.0.11", 80, ForwardMethod::Route, 3), 37, 402),
                listed(dest("10.0.0.12", 80, ForwardMethod::Route, 1), 12, 140),
            ],
        ),
        (
            service(
                key(Protocol::Tcp, "192.168.10.100", 443),
                "rr",
                svc_flags::PERSISTENT,
                300,
                Some(Netmask::V4(0xffff_ff00)),
            ),
            vec![listed(dest("10.0.0.11", 443, ForwardMethod::Masq, 1), 2, 5)],
        ),
        (
            service(key(Protocol::Tcp, "200.1.1.1", 25), "lc", 0, 0, None),
            vec![],
        ),
        (
            service(key(Protocol::Tcp, "10.1.1.1", 25), "lc", 0, 0, None),
            vec![listed(dest("10.9.9.9", 25, ForwardMethod::Route, 0), 0, 0)],
        ),
        (
            service(
                key(Protocol::Udp, "192.168.10.100", 53),
                "sh",
                svc_flags::SCHED_FALLBACK | svc_flags::SCHED_PORT,
                0,
                None,
            ),
            vec![listed(
                dest("10.0.0.21", 5353, ForwardMethod::Masq, 1),
                0,
                3,
            )],
        ),
        (
            service(
                key(Protocol::Udp, "192.168.10.100", 5060),
                "rr",
                svc_flags::ONEPACKET,
                0,
                None,
            ),
            vec![listed(
                dest("127.0.0.1", 5060, ForwardMethod::Local, 1),
                0,
                0,
            )],
        ),
        (
            service(
                key(Protocol::Tcp, "2001:db8::100", 80),
                "mh",
                svc_flags::PERSISTENT | svc_flags::SCHED_PORT,
                60,
                Some(Netmask::V6Prefix(64)),
            ),
            vec![listed(
                dest("2001:db8::11", 8080, ForwardMethod::Masq, 1),
                0,
                0,
            )],
        ),
        (
            service(fw10, "wrr", svc_flags::PERSISTENT, 360, None),
            vec![
                listed(gue_dest(), 1, 1),
                listed(dest("10.0.0.32", 0, ForwardMethod::Tunnel, 2), 1, 1),
            ],
        ),
    ];
    Listing {
        info: IpvsInfo {
            version: 0x010201,
            conn_tab_size: 4096,
        },
        services: services
            .into_iter()
            .map(|(service, destinations)| ListedService {
                service,
                stats: Stats::default(),
                destinations,
            })
            .collect(),
    }
}

fn reversed(mut l: Listing) -> Listing {
    l.services.reverse();
    for s in &mut l.services {
        s.destinations.reverse();
    }
    l
}

#[test]
fn default_listing_is_byte_identical_to_ipvsadm() {
    let options = ListOptions {
        nosort: true,
        ..Default::default()
    };
    assert_eq!(list(&harness_listing(), &options), GOLDEN_LN);
}

#[test]
fn sorted_listing_differs_from_ipvsadm_only_by_the_signed_compare_quirk() {
    // Sorting any permutation gives ipvsadm's order, except that 10.1.1.1
    // comes before 192.168.10.100 and 200.1.1.1 (true unsigned order).
    let got = list(&reversed(harness_listing()), &ListOptions::default());
    let lines: Vec<&str> = got.lines().filter(|l| !l.starts_with("  ->")).collect();
    assert_eq!(
        lines[2..],
        [
            "TCP  10.1.1.1:25 lc",
            "TCP  192.168.10.100:80 wlc",
            "TCP  192.168.10.100:443 rr persistent 300 mask 255.255.255.0",
            "TCP  200.1.1.1:25 lc",
            "UDP  192.168.10.100:53 sh (sh-fallback,sh-port)",
            "UDP  192.168.10.100:5060 rr ops",
            "TCP  [2001:db8::100]:80 mh (mh-port) persistent 60 mask 64",
            "FWM  10 wrr persistent 360",
        ]
    );
    // Every golden line is there, and nothing else.
    let mut want: Vec<&str> = GOLDEN_LN.lines().collect();
    let mut have: Vec<&str> = got.lines().collect();
    want.sort();
    have.sort();
    assert_eq!(have, want);
}

#[test]
fn stats_listing_is_byte_identical_to_ipvsadm() {
    let mut l = harness_listing();
    l.services.truncate(1);
    l.services[0].stats = Stats {
        conns: 6034,
        inpkts: 81246,
        inbytes: 9_625_345,
        ..Default::default()
    };
    l.services[0].destinations.truncate(1);
    l.services[0].destinations[0].stats = Stats {
        conns: 4511,
        inpkts: 61234,
        inbytes: 7_234_111,
        ..Default::default()
    };
    let options = ListOptions {
        stats: true,
        ..Default::default()
    };
    let want = format!("IP Virtual Server version 1.2.1 (size=4096)\n{GOLDEN_LN_STATS}");
    assert_eq!(list(&l, &options), want);
}

#[test]
fn tun_info_line_is_byte_identical_to_ipvsadm() {
    let options = ListOptions {
        tun_info: true,
        ..Default::default()
    };
    let got = list(&harness_listing(), &options);
    assert!(got.contains(&format!("\n{GOLDEN_TUN_LINE}")), "{got}");
    assert!(got.contains(
        "\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
    ));
    assert!(got.contains(
        "\n  -> 10.0.0.11:80                 Route   n/a           3      37         402       \n"
    ));
}

/// §2.4's table is the harness table without the two port-25 services and
/// without the Local destination of port 5060.
fn save_sample() -> Listing {
    let mut l = harness_listing();
    l.services
        .retain(|s| !matches!(s.service.key, ServiceKey::Addr { port: 25, .. }));
    for s in &mut l.services {
        s.destinations
            .retain(|d| d.dest.forward != ForwardMethod::Local);
    }
    l
}

#[test]
fn save_is_byte_identical_to_ipvsadm() {
    let l = reversed(save_sample());
    assert_eq!(save_listing(&l), GOLDEN_SN);
    let save = ListOptions {
        save: true,
        ..Default::default()
    };
    assert_eq!(list(&l, &save), GOLDEN_SN);
    let table = Table {
        services: l
            .services
            .iter()
            .map(|s| ServiceEntry {
                service: s.service.clone(),
                destinations: s.destinations.iter().map(|d| d.dest.clone()).collect(),
            })
            .collect(),
    };
    assert_eq!(save_table(&table), GOLDEN_SN);
}

#[test]
fn save_covers_fwmark_ipv6_sctp_gre_pe_and_local() {
    let mut fw6 = service(
        ServiceKey::Fwmark {
            af: AddressFamily::Inet6,
            mark: 7,
        },
        "rr",
        0,
        0,
        None,
    );
    fw6.pe_name = Some("sip".into());
    let mut gre = dest("10.0.0.40", 0, ForwardMethod::Tunnel, 5);
    gre.tunnel = Tunnel {
        kind: TunnelType::Gre,
        port: 0,
        csum: TunnelCsum::NoCsum,
    };
    let mut local = dest("10.0.0.41", 0, ForwardMethod::Local, 1);
    local.u_threshold = 100;
    local.l_threshold = 10;
    let sctp = service(
        key(Protocol::Sctp, "10.0.0.1", 3868),
        "sh",
        svc_flags::SCHED3,
        0,
        None,
    );
    let table = Table {
        services: vec![
            ServiceEntry {
                service: fw6,
                destinations: vec![gre, local],
            },
            ServiceEntry {
                service: sctp,
                destinations: vec![],
            },
        ],
    };
    assert_eq!(
        save_table(&table),
        "-A --sctp-service 10.0.0.1:3868 -s sh -b \n\
         -A -f 7 -6 -s rr --pe sip\n\
         -a -f 7 -6 -r 10.0.0.40:0 -i -w 5 --tun-type gre --tun-nocsum\n\
         -a -f 7 -6 -r 10.0.0.41:0 -g -w 1\n"
    );
}

fn one_dest_listing(stats: Stats, counters: DestCounters, d: Destination) -> Listing {
    Listing {
        info: IpvsInfo {
            version: 0x010203,
            conn_tab_size: 1 << 20,
        },
        services: vec![ListedService {
            service: service(
                key(Protocol::Udp, "192.0.2.1", 53),
                "wrr",
                svc_flags::SCHED1,
                0,
                None,
            ),
            stats,
            destinations: vec![ListedDest {
                dest: d,
                counters,
                stats,
            }],
        }],
    }
}

#[test]
fn rate_exact_thresholds_and_persistent_conn_modes() {
    let stats = Stats {
        cps: 123_456_789,
        inpps: 5,
        outpps: 6,
        inbps: 1_500_000_000,
        outbps: 7,
        ..Default::default()
    };
    let counters = DestCounters {
        active_conns: 11,
        inact_conns: 22,
        persist_conns: 33,
    };
    let mut d = dest("192.0.2.10", 53, ForwardMethod::Masq, 4);
    d.u_threshold = 1000;
    d.l_threshold = 800;
    let l = one_dest_listing(stats, counters, d);
    let opts = |f: fn(&mut ListOptions)| {
        let mut o = ListOptions::default();
        f(&mut o);
        o
    };
    assert_eq!(
        list(&l, &opts(|o| o.rate = true)),
        "IP Virtual Server version 1.2.3 (size=1048576)\n\
         Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n\
         \x20 -> RemoteAddress:Port\n\
         UDP  192.0.2.1:53                  123456K        5        6    1500M        7\n\
         \x20 -> 192.0.2.10:53                123456789        5        6    1500M        7\n"
    );
    assert_eq!(
        list(
            &l,
            &opts(|o| {
                o.rate = true;
                o.exact = true
            })
        )
        .lines()
        .nth(3)
        .unwrap(),
        "UDP  192.0.2.1:53                 123456789        5        6 1500000000        7"
    );
    assert_eq!(
        list(&l, &opts(|o| o.thresholds = true)),
        "IP Virtual Server version 1.2.3 (size=1048576)\n\
         Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n\
         \x20 -> RemoteAddress:Port\n\
         UDP  192.0.2.1:53 wrr (flag-1)\n\
         \x20 -> 192.0.2.10:53                1000       800        11         22        \n"
    );
    assert_eq!(
        list(&l, &opts(|o| o.persistent_conn = true)),
        "IP Virtual Server version 1.2.3 (size=1048576)\n\
         Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n\
         \x20 -> RemoteAddress:Port\n\
         UDP  192.0.2.1:53 wrr (flag-1)\n\
         \x20 -> 192.0.2.10:53                4         33          11         22        \n"
    );
}

#[test]
fn long_ipv4_names_are_cut_like_ipvsadm() {
    // A 33-byte service name cannot be exceeded by IPv4 (max 27 bytes with
    // SCTP), but IPv6-mapped dests of an IPv4 service are not cut.
    let d = dest("::ffff:192.0.2.10", 65535, ForwardMethod::Tunnel, 1);
    let l = one_dest_listing(Stats::default(), DestCounters::default(), d);
    let got = list(&l, &ListOptions::default());
    assert!(
        got.contains("\n  -> [::ffff:192.0.2.10]:65535    Tunnel  1      0          0         \n")
    );
}

#[test]
fn json_is_sorted_and_round_trips() {
    let l = reversed(harness_listing());
    let text = format::listing_json(&l).unwrap();
    let back: Listing = serde_json::from_str(&text).unwrap();
    assert_eq!(back, format::sorted(&l));
    assert_ne!(back, l);
}
