//! The blocklist's keys: source IPs and called numbers, normalised the way the API matches them,
//! and their compact in-table forms (16 bytes for an IP, 24 for a number).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::event::canonical_ip;
use crate::store::is_phone_number;

/// Characters a number packs inline; longer numbers are kept as text.
const INLINE_NUMBER_CHARS: usize = 32;

/// A key of the blocklist, in its public form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A source IP (IPv4-mapped IPv6 is always IPv4 here).
    Ip(IpAddr),
    /// A called phone number, as dialled (`^\+?[0-9]+$`; `+` and leading zeros kept).
    Number(Box<str>),
}

impl Key {
    /// The key for a source IP: IPv4-mapped IPv6 (`::ffff:192.0.2.7`) becomes IPv4, as the API
    /// and the store write it.
    pub fn ip(ip: IpAddr) -> Self {
        Self::Ip(canonical_ip(ip))
    }

    /// The key for a called number when it is a phone number by the API's rule
    /// ([`is_phone_number`]: one or more ASCII digits, an optional leading `+`); `+44…` and
    /// `44…`, `0044…` are different keys, exactly as in `/numbers/{number}`.
    pub fn number(text: &str) -> Option<Self> {
        is_phone_number(text).then(|| Self::Number(text.into()))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => ip.fmt(f),
            Self::Number(number) => f.write_str(number),
        }
    }
}

/// A key's in-table form: hashable, comparable, and convertible back to its [`Key`].
pub(crate) trait TableKey: Clone + Eq + std::hash::Hash {
    /// The public form.
    fn to_key(&self) -> Key;
}

/// An IP as 16 octets: IPv6 as is, IPv4 as its IPv4-mapped IPv6 form (unambiguous, since
/// mapped addresses are normalised to IPv4 before they get here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct IpKey([u8; 16]);

impl IpKey {
    /// The key of `ip` (any form; normalised).
    pub(crate) fn new(ip: IpAddr) -> Self {
        let octets = match canonical_ip(ip) {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        Self(octets)
    }

    /// The address.
    pub(crate) fn ip(self) -> IpAddr {
        Ipv6Addr::from(self.0).to_canonical()
    }
}

impl TableKey for IpKey {
    fn to_key(&self) -> Key {
        Key::Ip(self.ip())
    }
}

/// A phone number: up to 32 characters packed as nibbles (`0`–`9` → 1–10, `+` → 11, 0 = end),
/// longer ones as text. Packing is one-to-one (no character packs as 0), so equal keys are
/// equal numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NumberKey {
    /// Up to [`INLINE_NUMBER_CHARS`] characters, two per byte, zero-padded.
    Packed([u8; 16]),
    /// Longer numbers (rare: E.164 numbers have at most 15 digits).
    Long(Box<str>),
}

impl NumberKey {
    /// The key of `text` when it is a phone number ([`is_phone_number`]).
    pub(crate) fn new(text: &str) -> Option<Self> {
        if !is_phone_number(text) {
            return None;
        }
        if text.len() > INLINE_NUMBER_CHARS {
            return Some(Self::Long(text.into()));
        }
        let mut packed = [0u8; 16];
        for (index, byte) in text.bytes().enumerate() {
            let nibble = match byte {
                b'+' => 11,
                digit => digit - b'0' + 1,
            };
            packed[index / 2] |= nibble << (4 * (index % 2));
        }
        Some(Self::Packed(packed))
    }

    /// The number as text.
    pub(crate) fn text(&self) -> Box<str> {
        match self {
            Self::Long(text) => text.clone(),
            Self::Packed(packed) => {
                let mut text = String::with_capacity(INLINE_NUMBER_CHARS);
                let nibbles = packed.iter().flat_map(|byte| [byte & 0x0f, byte >> 4]);
                for nibble in nibbles.take_while(|nibble| *nibble != 0) {
                    text.push(match nibble {
                        11 => '+',
                        digit => char::from(b'0' + digit - 1),
                    });
                }
                text.into_boxed_str()
            }
        }
    }
}

impl TableKey for NumberKey {
    fn to_key(&self) -> Key {
        Key::Number(self.text())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn mapped_ipv6_is_the_same_key_as_ipv4() {
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(IpKey::new(v4), IpKey::new(mapped));
        assert_eq!(IpKey::new(mapped).ip(), v4);
        assert_eq!(Key::ip(mapped), Key::Ip(v4));
        let v6: IpAddr = "2001:db8::7".parse().expect("ip");
        assert_ne!(IpKey::new(v6), IpKey::new(v4));
        assert_eq!(IpKey::new(v6).ip(), v6);
    }

    #[test]
    fn numbers_follow_the_api_rule_for_plus_and_leading_zeros() {
        for number in [
            "0046812118532",
            "+441234567890",
            "441234567890",
            "0",
            "+0",
            "112",
        ] {
            let key = NumberKey::new(number).expect("a phone number");
            assert_eq!(&*key.text(), number);
            assert_eq!(Key::number(number), Some(Key::Number(number.into())));
        }
        let distinct = ["+44123", "44123", "0044123", "044123"].map(NumberKey::new);
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b);
            }
        }
        for not_a_number in ["", "+", "NOT_FOUND", "1 2", "++1", "1+2", "asterisk", "١٢٣"] {
            assert_eq!(NumberKey::new(not_a_number), None, "{not_a_number}");
            assert_eq!(Key::number(not_a_number), None);
        }
    }

    #[test]
    fn long_numbers_are_kept_whole() {
        let at_limit = "1".repeat(32);
        let over = format!("+{at_limit}");
        assert!(matches!(
            NumberKey::new(&at_limit),
            Some(NumberKey::Packed(_))
        ));
        assert_eq!(
            NumberKey::new(&over),
            Some(NumberKey::Long(over.clone().into()))
        );
        assert_eq!(&*NumberKey::new(&over).expect("number").text(), over);
    }

    proptest! {
        #[test]
        fn every_phone_number_round_trips(number in "\\+?[0-9]{1,40}") {
            let key = NumberKey::new(&number).expect("a phone number");
            prop_assert_eq!(&*key.text(), number.as_str());
        }

        #[test]
        fn packing_is_one_to_one(a in "\\+?[0-9]{1,34}", b in "\\+?[0-9]{1,34}") {
            prop_assert_eq!(NumberKey::new(&a) == NumberKey::new(&b), a == b);
        }

        #[test]
        fn only_phone_numbers_are_keys(text in "\\PC{0,12}") {
            prop_assert_eq!(NumberKey::new(&text).is_some(), is_phone_number(&text));
        }

        #[test]
        fn any_ip_round_trips_normalised(ip in any::<IpAddr>()) {
            prop_assert_eq!(IpKey::new(ip).ip(), ip.to_canonical());
        }

        #[test]
        fn socket_sources_key_by_address_only(v4 in any::<u32>(), port in any::<u16>()) {
            let ip = IpAddr::V4(Ipv4Addr::from(v4));
            let mapped = SocketAddr::new(IpAddr::V6(Ipv4Addr::from(v4).to_ipv6_mapped()), port);
            prop_assert_eq!(IpKey::new(mapped.ip()), IpKey::new(ip));
        }
    }
}
