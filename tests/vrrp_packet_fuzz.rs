//! Fuzzing the VRRP decoder with arbitrary bytes and mutated valid adverts:
//! it never panics, never reads past the buffer, and whatever it accepts
//! re-encodes to a message that decodes to the same advert.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvsd::vrrp::packet::{split_ipv4, Advert, Auth, Version, MCAST_V4, MCAST_V6};
use proptest::prelude::*;

fn src4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), v6 in any::<bool>(), done in any::<bool>()) {
        let (src, dst) = if v6 {
            (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)), IpAddr::V6(MCAST_V6))
        } else {
            (src4(), IpAddr::V4(MCAST_V4))
        };
        if let Ok((adv, _)) = Advert::decode(&bytes, src, dst, done) {
            prop_assert!(!adv.addrs.is_empty());
            prop_assert!(adv.addrs.iter().all(|a| a.is_ipv6() == v6));
        }
        let _ = split_ipv4(&bytes);
    }

    #[test]
    fn mutated_adverts_decode_or_drop_cleanly(
        version3 in any::<bool>(),
        vrid in 1u8..=255,
        prio in any::<u8>(),
        n in 1usize..20,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        let adv = Advert {
            version: if version3 { Version::V3 } else { Version::V2 },
            vrid,
            priority: prio,
            interval_cs: 100,
            auth: if version3 { Auth::None } else { Auth::pass("pw") },
            addrs: (0..n).map(|i| IpAddr::V4(Ipv4Addr::new(10, 1, 0, i as u8))).collect(),
        };
        let dst = IpAddr::V4(MCAST_V4);
        let mut m = adv.encode(src4(), dst, true);
        let clean = flips.is_empty();
        for (at, x) in flips {
            let i = at % m.len();
            m[i] ^= x;
        }
        if clean {
            let (d, _) = Advert::decode(&m, src4(), dst, false).expect("valid advert decodes");
            prop_assert_eq!(d, adv);
        }
        let keep = cut % (m.len() + 1);
        if let Ok((d, _)) = Advert::decode(&m[..keep], src4(), dst, false) {
            let again = d.encode(src4(), dst, true);
            let (d2, _) = Advert::decode(&again, src4(), dst, false).expect("re-encoded decodes");
            prop_assert_eq!(d2, d);
        }
    }
}
