//! Process figures for the benchmark: CPU time (getrusage), memory
//! (/proc/self/status), lateness percentiles, and the open-files limit.

use std::time::Duration;

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (VmRSS, VmHWM) in KiB from /proc/self/status; 0 when unreadable.
pub fn rss_kib() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Raises RLIMIT_NOFILE's soft limit to `want` (and the hard limit too
/// when allowed); returns the soft limit in force.
pub fn raise_nofile(want: u64) -> u64 {
    // SAFETY: get/setrlimit on a struct we own.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 0;
    }
    if r.rlim_cur >= want {
        return r.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: r.rlim_max.max(want),
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return want;
    }
    let soft = libc::rlimit {
        rlim_cur: r.rlim_max,
        rlim_max: r.rlim_max,
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
        return r.rlim_max;
    }
    r.rlim_cur
}

/// The `q`-quantile (0..=1) of sorted samples.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `1.234ms` / `56µs`.
pub fn micros(us: u32) -> String {
    if us >= 1000 {
        format!("{:.3}ms", f64::from(us) / 1000.0)
    } else {
        format!("{us}µs")
    }
}
