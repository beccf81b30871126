//! Value syntax shared by all keywords: TIMER, BOOL, integers with ranges,
//! addresses, ports. Each parser returns a message naming the value and the
//! allowed range; the caller attaches the position.

use std::net::IpAddr;
use std::time::Duration;

/// `<TIMER>`: decimal seconds, up to 6 decimal places (µs). Returns the
/// duration and whether it was rounded.
pub fn timer(text: &str) -> Result<(Duration, bool), String> {
    if text.starts_with('-') {
        return Err(format!(
            "`{text}` is negative; a time in seconds must be >= 0"
        ));
    }
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(format!(
            "`{text}` is not a time in seconds (expected e.g. `3` or `1.5`)"
        ));
    }
    let secs: u64 = if int.is_empty() {
        0
    } else {
        int.parse()
            .map_err(|_| format!("`{text}` is too large for a time in seconds"))?
    };
    if secs > 4_294_967 * 1000 {
        return Err(format!("`{text}` is too large for a time in seconds"));
    }
    let mut micros: u64 = 0;
    let mut rounded = false;
    for (i, c) in frac.chars().enumerate() {
        let d = c as u64 - '0' as u64;
        if i < 6 {
            micros = micros * 10 + d;
        } else {
            if i == 6 && d >= 5 {
                micros += 1;
            }
            rounded = true;
        }
    }
    for _ in frac.len().min(6)..6 {
        micros *= 10;
    }
    Ok((
        Duration::from_secs(secs) + Duration::from_micros(micros),
        rounded,
    ))
}

/// `<BOOL>`: exactly `on|off|true|false|yes|no`.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!(
            "`{text}` is not a boolean (expected on, off, true, false, yes or no)"
        )),
    }
}

/// An integer in `[min, max]`.
pub fn integer(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not an integer (allowed: {min} to {max})"))?;
    if v < min || v > max {
        return Err(format!("{v} is out of range (allowed: {min} to {max})"));
    }
    Ok(v)
}

pub fn ip(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address"))
}

/// A port in `[0, 65535]`.
pub fn port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| format!("`{text}` is not a port (allowed: 0 to 65535)"))
}

/// `ADDR[/PREFIX]`.
pub fn ip_prefix(text: &str) -> Result<(IpAddr, Option<u8>), String> {
    match text.split_once('/') {
        Some((a, p)) => {
            let addr = ip(a)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = integer(p, 0, max).map_err(|_| {
                format!("`{p}` is not a prefix length for {addr} (allowed: 0 to {max})")
            })?;
            Ok((addr, Some(prefix as u8)))
        }
        None => Ok((ip(text)?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers() {
        assert_eq!(timer("3").unwrap(), (Duration::from_secs(3), false));
        assert_eq!(timer("1.5").unwrap(), (Duration::from_millis(1500), false));
        assert_eq!(timer(".25").unwrap(), (Duration::from_millis(250), false));
        assert_eq!(
            timer("0.0000015").unwrap(),
            (Duration::from_micros(2), true)
        );
        assert!(timer("-1").unwrap_err().contains("negative"));
        assert!(timer("1s").is_err());
    }

    #[test]
    fn booleans_are_exact() {
        assert_eq!(boolean("yes"), Ok(true));
        assert_eq!(boolean("off"), Ok(false));
        assert!(boolean("True").is_err());
    }

    #[test]
    fn integers_name_the_range() {
        assert_eq!(integer("5", 0, 10), Ok(5));
        assert_eq!(
            integer("-1", 0, 10).unwrap_err(),
            "-1 is out of range (allowed: 0 to 10)"
        );
    }
}
