//! `lvsd list`: the kernel IPVS table exactly as `ipvsadm -L -n` prints it,
//! or as JSON for tools.

use lvsd_ipvs::format::{list, ListOptions};
use lvsd_ipvs::netlink::client::IpvsClient;

use super::args::ListArgs;
use super::exit;

pub fn run(a: &ListArgs) -> i32 {
    let mut client = match IpvsClient::open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return exit::RUNTIME;
        }
    };
    let listing = match client.listing() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return exit::RUNTIME;
        }
    };
    if a.json {
        match serde_json::to_string_pretty(&lvsd_ipvs::format::sorted(&listing)) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("lvsd: {e}");
                return exit::RUNTIME;
            }
        }
        return exit::OK;
    }
    let o = ListOptions {
        save: a.save,
        stats: a.stats,
        rate: a.rate,
        exact: a.exact,
        thresholds: a.thresholds,
        persistent_conn: a.persistent_conn,
        tun_info: a.tun_info,
        nosort: false,
    };
    print!("{}", list(&listing, &o));
    exit::OK
}
