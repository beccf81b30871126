//! keepalived 2.2.7's checker FIFO lines (`ipwrapper.c:notify_fifo_vs` and
//! `notify_fifo_rs`, names from `check_data.c:format_vs`/`format_rs`):
//!
//! - `VS [10.0.0.1]:tcp:80 UP` (`FWM 7` for a fwmark service, `[NAME]:0`
//!   for a `virtual_server_group`: keepalived prints the group's port field,
//!   which lvsd does not have);
//! - `RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN` (the real server with the
//!   virtual server's protocol, then the virtual server).
//!
//! Each line ends with a newline. Pure.

use std::net::IpAddr;

use lvsd_ipvs::Protocol;

use crate::config::model::{VirtualServer, VsTarget};

/// keepalived's `inet_sockaddrtotrio`: `[addr]:proto:port`.
fn trio(addr: IpAddr, protocol: Protocol, port: u16) -> String {
    format!(
        "[{addr}]:{}:{port}",
        crate::director::names::protocol_name(protocol)
    )
}

/// keepalived's `format_vs`.
pub fn vs_text(vs: &VirtualServer) -> String {
    match &vs.target {
        VsTarget::Addr { addr, port } => trio(*addr, vs.protocol.value, *port),
        VsTarget::Fwmark(m) => format!("FWM {m}"),
        VsTarget::Group(g) => format!("[{g}]:0"),
    }
}

fn state(up: bool) -> &'static str {
    if up {
        "UP"
    } else {
        "DOWN"
    }
}

/// The line for a virtual server's quorum change.
pub fn vs_line(vs: &VirtualServer, up: bool) -> String {
    format!("VS {} {}\n", vs_text(vs), state(up))
}

/// The line for a real server's alive change.
pub fn rs_line(vs: &VirtualServer, rs_addr: IpAddr, rs_port: u16, up: bool) -> String {
    format!(
        "RS {} {} {}\n",
        trio(rs_addr, vs.protocol.value, rs_port),
        vs_text(vs),
        state(up)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> crate::config::Config {
        let l = crate::config::load_str(
            std::path::Path::new("t.conf"),
            text,
            &crate::config::LoadOptions::default(),
        );
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        l.config
    }

    #[test]
    fn keepalived_formats() {
        let c = cfg("virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.0.2 8080 {\n }\n}\n\
                     virtual_server 2001:db8::1 53 {\n protocol UDP\n real_server 2001:db8::2 53 {\n }\n}\n\
                     virtual_server fwmark 7 {\n protocol TCP\n real_server 10.0.0.3 80 {\n }\n}\n");
        let [a, b, f] = &c.virtual_servers[..] else {
            panic!("three virtual servers")
        };
        assert_eq!(vs_line(a, true), "VS [10.0.0.1]:tcp:80 UP\n");
        assert_eq!(
            rs_line(a, "10.0.0.2".parse().unwrap(), 8080, false),
            "RS [10.0.0.2]:tcp:8080 [10.0.0.1]:tcp:80 DOWN\n"
        );
        assert_eq!(
            rs_line(b, "2001:db8::2".parse().unwrap(), 53, true),
            "RS [2001:db8::2]:udp:53 [2001:db8::1]:udp:53 UP\n"
        );
        assert_eq!(vs_line(f, false), "VS FWM 7 DOWN\n");
        assert_eq!(
            rs_line(f, "10.0.0.3".parse().unwrap(), 80, true),
            "RS [10.0.0.3]:tcp:80 FWM 7 UP\n"
        );
    }
}
