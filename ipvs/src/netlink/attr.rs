//! Netlink attributes as IPVS uses them: a small tree of typed values that
//! encodes with the rust-netlink `Nla` machinery, and tolerant readers for
//! kernel replies (nested flag optional, unknown attributes skipped).

use netlink_packet_core::{DecodeError, Emitable, Nla, NlaBuffer, NlasIterator, NLA_F_NESTED};

/// Mask that strips the NESTED / NET_BYTEORDER flags from an attribute type.
pub const TYPE_MASK: u16 = 0x3fff;

/// An attribute to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    U8(u16, u8),
    U16(u16, u16),
    /// A u16 in network byte order (ports).
    U16Be(u16, u16),
    U32(u16, u32),
    /// A u32 whose bytes are given as they go on the wire (IPv4 netmask).
    U32Raw(u16, [u8; 4]),
    Bytes(u16, Vec<u8>),
    /// A NUL-terminated string.
    Str(u16, String),
    /// A nested attribute; sent with NLA_F_NESTED, as libnl does.
    Nested(u16, Vec<Attr>),
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match self {
            Attr::U8(..) => 1,
            Attr::U16(..) | Attr::U16Be(..) => 2,
            Attr::U32(..) | Attr::U32Raw(..) => 4,
            Attr::Bytes(_, b) => b.len(),
            Attr::Str(_, s) => s.len() + 1,
            Attr::Nested(_, v) => v.as_slice().buffer_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Attr::Nested(k, _) => *k | NLA_F_NESTED,
            Attr::U8(k, _)
            | Attr::U16(k, _)
            | Attr::U16Be(k, _)
            | Attr::U32(k, _)
            | Attr::U32Raw(k, _)
            | Attr::Bytes(k, _)
            | Attr::Str(k, _) => *k,
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Attr::U8(_, v) => buf[0] = *v,
            Attr::U16(_, v) => buf[..2].copy_from_slice(&v.to_ne_bytes()),
            Attr::U16Be(_, v) => buf[..2].copy_from_slice(&v.to_be_bytes()),
            Attr::U32(_, v) => buf[..4].copy_from_slice(&v.to_ne_bytes()),
            Attr::U32Raw(_, v) => buf[..4].copy_from_slice(v),
            Attr::Bytes(_, b) => buf[..b.len()].copy_from_slice(b),
            Attr::Str(_, s) => {
                buf[..s.len()].copy_from_slice(s.as_bytes());
                buf[s.len()] = 0;
            }
            Attr::Nested(_, v) => v.as_slice().emit(buf),
        }
    }
}

/// One received attribute: its type (flags masked) and value bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawAttr<'a> {
    pub kind: u16,
    pub value: &'a [u8],
}

/// The attributes in `buf`, flags masked. A malformed attribute ends the
/// list with an error.
pub fn parse_attrs(buf: &[u8]) -> Result<Vec<RawAttr<'_>>, DecodeError> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(buf) {
        let nla: NlaBuffer<&[u8]> = nla?;
        let kind = nla.kind() & TYPE_MASK;
        let len = nla.length() as usize;
        let inner: &[u8] = nla.into_inner();
        let value = inner.get(4..len.min(inner.len())).unwrap_or(&[]);
        out.push(RawAttr { kind, value });
    }
    Ok(out)
}

/// Walks the attributes of `buf` with the framing rules of
/// `NlasIterator` (each needs a 4-byte header, a length of at least 4 that
/// fits the buffer; the next starts at the 4-aligned end), without its
/// per-attribute checked buffers. `parse_attrs` keeps the crate's iterator;
/// a test pins that both accept and return the same.
struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Walk<'a> {
    type Item = Result<RawAttr<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        if rest.len() < 4 {
            self.pos = self.buf.len();
            return Some(Err(DecodeError::from(format!(
                "attribute header of {} bytes at offset {}",
                rest.len(),
                self.pos
            ))));
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        if len < 4 || len > rest.len() {
            let at = self.pos;
            self.pos = self.buf.len();
            return Some(Err(DecodeError::from(format!(
                "attribute of length {len} at offset {at} in a {}-byte buffer",
                self.buf.len()
            ))));
        }
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & TYPE_MASK;
        self.pos += (len + 3) & !3;
        Some(Ok(RawAttr {
            kind,
            value: &rest[4..len],
        }))
    }
}

/// Calls `f` for each attribute of `buf` in order, flags masked, without
/// collecting them; stops at the first malformed attribute or error of `f`.
pub fn each_attr<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(RawAttr<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    for a in (Walk { buf, pos: 0 }) {
        f(a?)?;
    }
    Ok(())
}

/// Highest attribute type `AttrIndex` keeps (IPVS's largest is 15).
const INDEX_SLOTS: usize = 16;

/// The attributes of one buffer by type, first occurrence of each (what a
/// linear search would find), without allocating. Types above the IPVS
/// range are validated and skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrIndex<'a> {
    slots: [Option<RawAttr<'a>>; INDEX_SLOTS],
}

impl<'a> AttrIndex<'a> {
    /// Indexes `buf`; a malformed attribute is an error, as in `parse_attrs`.
    pub fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut idx = AttrIndex::default();
        for a in (Walk { buf, pos: 0 }) {
            let a = a?;
            if let Some(slot) = idx.slots.get_mut(a.kind as usize) {
                if slot.is_none() {
                    *slot = Some(a);
                }
            }
        }
        Ok(idx)
    }

    pub fn get(&self, kind: u16) -> Option<&RawAttr<'a>> {
        self.slots.get(kind as usize).and_then(|s| s.as_ref())
    }
}

/// Typed readers for attribute values, with errors that say what was wrong.
impl RawAttr<'_> {
    fn need(&self, n: usize, what: &str) -> Result<(), DecodeError> {
        if self.value.len() < n {
            return Err(DecodeError::from(format!(
                "{what}: attribute {} has {} bytes, expected {n}",
                self.kind,
                self.value.len()
            )));
        }
        Ok(())
    }

    pub fn u8(&self, what: &str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        Ok(self.value[0])
    }

    pub fn u16(&self, what: &str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(u16::from_ne_bytes([self.value[0], self.value[1]]))
    }

    pub fn u16_be(&self, what: &str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(u16::from_be_bytes([self.value[0], self.value[1]]))
    }

    pub fn u32(&self, what: &str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.value[..4]);
        Ok(u32::from_ne_bytes(b))
    }

    pub fn u32_raw(&self, what: &str) -> Result<[u8; 4], DecodeError> {
        self.need(4, what)?;
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.value[..4]);
        Ok(b)
    }

    pub fn u64(&self, what: &str) -> Result<u64, DecodeError> {
        self.need(8, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.value[..8]);
        Ok(u64::from_ne_bytes(b))
    }

    /// A counter that may be 4 or 8 bytes (STATS vs STATS64).
    pub fn counter(&self, what: &str) -> Result<u64, DecodeError> {
        match self.value.len() {
            n if n >= 8 => self.u64(what),
            4..=7 => self.u32(what).map(u64::from),
            _ => self.need(4, what).map(|_| 0),
        }
    }

    /// A NUL-terminated (or unterminated) string.
    pub fn string(&self, what: &str) -> Result<String, DecodeError> {
        let end = self
            .value
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.value.len());
        String::from_utf8(self.value[..end].to_vec())
            .map_err(|_| DecodeError::from(format!("{what}: not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn walked(buf: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, ()> {
        let mut v = Vec::new();
        each_attr(buf, |a| {
            v.push((a.kind, a.value.to_vec()));
            Ok(())
        })
        .map_err(|_| ())?;
        Ok(v)
    }

    fn iterated(buf: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, ()> {
        parse_attrs(buf)
            .map(|v| v.iter().map(|a| (a.kind, a.value.to_vec())).collect())
            .map_err(|_| ())
    }

    /// Random attribute streams, some well formed and some cut or with
    /// bad lengths: the walker accepts exactly what `NlasIterator` does and
    /// yields the same attributes.
    fn arb_stream() -> impl Strategy<Value = Vec<u8>> {
        let attr = (
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..12),
            any::<bool>(),
        )
            .prop_map(|(kind, value, bad)| {
                let len = if bad {
                    (value.len() as u16).wrapping_mul(7)
                } else {
                    4 + value.len() as u16
                };
                let mut b = len.to_ne_bytes().to_vec();
                b.extend(kind.to_ne_bytes());
                b.extend(&value);
                while b.len() % 4 != 0 {
                    b.push(0);
                }
                b
            });
        (proptest::collection::vec(attr, 0..6), 0usize..4).prop_map(|(v, cut)| {
            let mut b: Vec<u8> = v.concat();
            b.truncate(b.len().saturating_sub(cut));
            b
        })
    }

    proptest! {
        #[test]
        fn walker_matches_the_crate_iterator(buf in arb_stream()) {
            prop_assert_eq!(walked(&buf), iterated(&buf));
        }

        #[test]
        fn walker_matches_on_arbitrary_bytes(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(walked(&buf), iterated(&buf));
        }
    }
}
