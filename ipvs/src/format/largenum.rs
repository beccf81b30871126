//! ipvsadm's `print_largenum`: a 9-column counter, with K/M/G/T suffixes
//! from 10^8 up unless `--exact`.

use std::fmt::Write;

/// Appends `i` as `print_largenum` prints it (ipvsadm.c:1819-1840).
pub fn largenum(out: &mut String, i: u64, exact: bool) {
    if exact {
        let len = decimal_len(i);
        let width = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>width$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

fn decimal_len(mut i: u64) -> usize {
    let mut len = 1;
    while i >= 10 {
        i /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::largenum;

    fn shown(i: u64, exact: bool) -> String {
        let mut s = String::new();
        largenum(&mut s, i, exact);
        s
    }

    #[test]
    fn suffix_boundaries() {
        assert_eq!(shown(0, false), "        0");
        assert_eq!(shown(99_999_999, false), " 99999999");
        assert_eq!(shown(100_000_000, false), "  100000K");
        assert_eq!(shown(999_999_999, false), "  999999K");
        assert_eq!(shown(1_000_000_000, false), "    1000M");
        assert_eq!(shown(99_999_999_999, false), "   99999M");
        assert_eq!(shown(100_000_000_000, false), "     100G");
        assert_eq!(shown(99_999_999_999_999, false), "   99999G");
        assert_eq!(shown(100_000_000_000_000, false), "     100T");
        assert_eq!(shown(u64::MAX, false), "18446744T");
    }

    #[test]
    fn exact_widens_past_eight_digits() {
        assert_eq!(shown(5, true), "        5");
        assert_eq!(shown(12_345_678, true), " 12345678");
        assert_eq!(shown(123_456_789, true), " 123456789");
        assert_eq!(shown(1_000_000_000, true), " 1000000000");
        assert_eq!(shown(u64::MAX, true), " 18446744073709551615");
    }
}
