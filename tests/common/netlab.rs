//! Network-namespace fixtures for VRRP tests: a bridge in its own
//! namespace and N nodes each with `eth0` on it (10.77.X.n/24), processes
//! started inside nodes, VIP observation, silent partitions, and a raw
//! packet injector. Everything created is removed on drop, even when the
//! test fails; every wait is bounded.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn require_root() {
    // SAFETY: plain getter.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "network-namespace tests need root (CAP_NET_ADMIN, CAP_NET_RAW); run scripts/test as root"
    );
}

/// A LAN of namespaces.
pub struct Lan {
    pub tag: String,
    /// The third octet of this LAN's subnet (10.77.<net>.0/24).
    pub net: u8,
    nodes: usize,
}

impl Lan {
    pub fn new(nodes: usize) -> Lan {
        require_root();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("lvt{}x{}", std::process::id() % 100_000, n);
        let lan = Lan {
            tag,
            net: (n % 250) as u8 + 1,
            nodes,
        };
        lan.create()
            .unwrap_or_else(|e| panic!("cannot build the test LAN: {e}"));
        lan
    }

    fn create(&self) -> Result<(), String> {
        let br = self.bridge_ns();
        ip(&["netns", "add", &br])?;
        ip(&["-n", &br, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &br, "link", "set", "br0", "up"])?;
        for i in 0..self.nodes {
            let ns = self.ns(i);
            ip(&["netns", "add", &ns])?;
            // No duplicate address detection: link-local and VIP addresses
            // are usable at once.
            for k in ["default", "all"] {
                let _ = Command::new("ip")
                    .args(["netns", "exec", &ns, "sysctl", "-qw"])
                    .arg(format!("net.ipv6.conf.{k}.accept_dad=0"))
                    .status();
            }
            let port = format!("p{i}");
            ip(&[
                "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &br, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            let a = format!("{}/24", self.addr(i));
            ip(&["-n", &ns, "addr", "add", &a, "dev", "eth0"])?;
        }
        Ok(())
    }

    pub fn bridge_ns(&self) -> String {
        format!("{}-br", self.tag)
    }
    pub fn ns(&self, i: usize) -> String {
        format!("{}-{i}", self.tag)
    }
    /// The node's own address: 10.77.<net>.<i+1>.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.net, i as u8 + 1)
    }
    /// The VIP of the tests: 10.77.<net>.100.
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.net, 100)
    }

    /// Whether node `i` has `addr` on eth0.
    pub fn has_addr(&self, i: usize, addr: Ipv4Addr) -> bool {
        ip(&["-n", &self.ns(i), "-br", "addr", "show", "dev", "eth0"])
            .map(|o| o.contains(&format!(" {addr}/")))
            .unwrap_or(false)
    }

    /// Whether node `i` has the IPv6 `addr` on eth0.
    pub fn has_addr6(&self, i: usize, addr: &str) -> bool {
        ip(&[
            "-n",
            &self.ns(i),
            "-br",
            "-6",
            "addr",
            "show",
            "dev",
            "eth0",
        ])
        .map(|o| o.contains(&format!(" {addr}/")))
        .unwrap_or(false)
    }

    /// Which nodes hold the VIP now.
    pub fn holders(&self) -> Vec<usize> {
        (0..self.nodes)
            .filter(|&i| self.has_addr(i, self.vip()))
            .collect()
    }

    /// Starts `argv` inside node `i`, output to `log`.
    pub fn spawn(&self, i: usize, argv: &[&str], log: &std::path::Path) -> Proc {
        let f = std::fs::File::create(log).expect("log file");
        let f2 = f.try_clone().expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(i)])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(f2)
            .spawn()
            .expect("spawn in namespace");
        Proc {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// Node `i`'s eth0 MAC address.
    pub fn mac(&self, i: usize) -> String {
        ip(&["-n", &self.ns(i), "-br", "link", "show", "dev", "eth0"])
            .ok()
            .and_then(|o| o.split_whitespace().nth(2).map(str::to_string))
            .unwrap_or_default()
    }

    /// The MAC of interface `dev` in node `i`, if it exists.
    pub fn mac_of(&self, i: usize, dev: &str) -> Option<String> {
        ip(&["-n", &self.ns(i), "-br", "link", "show", "dev", dev])
            .ok()
            .and_then(|o| o.split_whitespace().nth(2).map(str::to_string))
    }

    /// Sets node `i`'s neighbour entry for `addr` to `mac` (stale).
    pub fn set_neigh(&self, i: usize, addr: Ipv4Addr, mac: &str) {
        let a = addr.to_string();
        ip(&[
            "-n",
            &self.ns(i),
            "neigh",
            "replace",
            &a,
            "lladdr",
            mac,
            "dev",
            "eth0",
            "nud",
            "stale",
        ])
        .expect("ip neigh replace");
    }

    /// Node `i`'s neighbour entry for `addr`: the MAC, if any.
    pub fn neigh(&self, i: usize, addr: Ipv4Addr) -> Option<String> {
        let o = ip(&[
            "-n",
            &self.ns(i),
            "neigh",
            "show",
            &addr.to_string(),
            "dev",
            "eth0",
        ])
        .ok()?;
        let mut w = o.split_whitespace();
        while let Some(x) = w.next() {
            if x == "lladdr" {
                return w.next().map(str::to_string);
            }
        }
        None
    }

    /// Starts `lvsd -P` (VRRP only) in node `i` on `<dir>/<name>.conf`,
    /// with its owned record, control socket `<name>.sock` and log
    /// `<name>.log` in `dir`.
    pub fn lvsd_vrrp(&self, i: usize, lvsd: &str, dir: &TempDir, name: &str, conf: &str) -> Proc {
        let c = dir.write(&format!("{name}.conf"), conf);
        let arg = |f: &str| dir.path(f).to_string_lossy().into_owned();
        let (c, own, sock) = (
            c.to_string_lossy().into_owned(),
            arg(&format!("{name}.owned")),
            arg(&format!("{name}.sock")),
        );
        self.spawn(
            i,
            &[
                lvsd,
                "-P",
                "-f",
                &c,
                "--owned-file",
                &own,
                "--control-socket",
                &sock,
            ],
            &dir.path(&format!("{name}.log")),
        )
    }

    /// Silently partitions node `i` (bridge port disabled, carrier up).
    pub fn cut(&self, i: usize, cut: bool) {
        let port = format!("p{i}");
        let _ = Command::new("bridge")
            .args([
                "-n",
                &self.bridge_ns(),
                "link",
                "set",
                "dev",
                &port,
                "state",
                if cut { "0" } else { "3" },
            ])
            .status();
    }

    /// Sends a raw IPv4 packet (header included) out of node `i`'s eth0.
    pub fn inject(&self, i: usize, packet: Vec<u8>, dst: Ipv4Addr) {
        let path = format!("/run/netns/{}", self.ns(i));
        let r = std::thread::spawn(move || -> Result<(), String> {
            let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            // SAFETY: setns on this thread only; the fd is valid.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: plain syscalls with valid arguments.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
                if fd < 0 {
                    return Err("socket".into());
                }
                let dev = b"eth0";
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_BINDTODEVICE,
                    dev.as_ptr() as *const libc::c_void,
                    dev.len() as libc::socklen_t,
                );
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_addr.s_addr = u32::from(dst).to_be();
                let rc = libc::sendto(
                    fd,
                    packet.as_ptr() as *const libc::c_void,
                    packet.len(),
                    0,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                );
                libc::close(fd);
                if rc < 0 {
                    return Err(format!("sendto: {}", std::io::Error::last_os_error()));
                }
            }
            Ok(())
        })
        .join();
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("inject: {e}"),
            Err(_) => panic!("inject thread panicked"),
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for i in 0..self.nodes {
            // Kill anything left inside (ip netns pids), then delete.
            if let Ok(p) = ip(&["netns", "pids", &self.ns(i)]) {
                for pid in p.split_whitespace().filter_map(|x| x.parse::<i32>().ok()) {
                    // SAFETY: plain syscall.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.bridge_ns()]);
    }
}

/// A process inside a namespace; killed on drop.
pub struct Proc {
    child: Option<Child>,
    pub log: std::path::PathBuf,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: plain syscall.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }
    /// Waits up to `t` for the process to exit; true when it did.
    pub fn wait_exit(&mut self, t: Duration) -> bool {
        let Some(c) = self.child.as_mut() else {
            return true;
        };
        let end = Instant::now() + t;
        while Instant::now() < end {
            if let Ok(Some(_)) = c.try_wait() {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(5));
    }
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill();
        }
    }
}

/// Polls `f` every 10 ms until it is true or `t` passes; returns the time
/// it took.
pub fn wait_until(t: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < t {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("lvsd-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn path(&self, f: &str) -> std::path::PathBuf {
        self.0.join(f)
    }
    pub fn write(&self, f: &str, text: &str) -> std::path::PathBuf {
        let p = self.path(f);
        std::fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
