//! DNS_CHECK wire format (RFC 1035): query encoder and reply validator. Pure.

use thiserror::Error;

/// Record types DNS_CHECK accepts (`type` keyword).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RrType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Txt,
    Aaaa,
    Rrsig,
    Dnskey,
}

impl RrType {
    pub fn code(self) -> u16 {
        match self {
            RrType::A => 1,
            RrType::Ns => 2,
            RrType::Cname => 5,
            RrType::Soa => 6,
            RrType::Mx => 15,
            RrType::Txt => 16,
            RrType::Aaaa => 28,
            RrType::Rrsig => 46,
            RrType::Dnskey => 48,
        }
    }

    /// Parses the keyword value (case-insensitive).
    pub fn parse(s: &str) -> Option<RrType> {
        Some(match s.to_ascii_uppercase().as_str() {
            "A" => RrType::A,
            "NS" => RrType::Ns,
            "CNAME" => RrType::Cname,
            "SOA" => RrType::Soa,
            "MX" => RrType::Mx,
            "TXT" => RrType::Txt,
            "AAAA" => RrType::Aaaa,
            "RRSIG" => RrType::Rrsig,
            "DNSKEY" => RrType::Dnskey,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DnsError {
    #[error("bad name {0:?}")]
    BadName(String),
    #[error("reply truncated or malformed")]
    Malformed,
    #[error("reply ID {got:#06x} does not match query ID {want:#06x}")]
    WrongId { got: u16, want: u16 },
    #[error("reply is not a response (QR=0)")]
    NotResponse,
    #[error("RCODE {0} ({name})", name = rcode_name(*.0))]
    Rcode(u8),
    #[error("question section does not echo the query")]
    QuestionMismatch,
    #[error("no {0:?} record for the name in the answer section")]
    NoAnswer(RrType),
}

fn rcode_name(r: u8) -> &'static str {
    match r {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "other",
    }
}

/// Encodes `name` as wire labels (root = "" or ".").
pub fn encode_name(name: &str) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err(DnsError::BadName(name.into()));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() > 255 {
        return Err(DnsError::BadName(name.into()));
    }
    Ok(out)
}

/// A query: header with `id`, RD=1, one question (`name`, `ty`, class IN).
pub fn encode_query(id: u16, name: &str, ty: RrType) -> Result<Vec<u8>, DnsError> {
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1
    q.extend_from_slice(&encode_name(name)?);
    q.extend_from_slice(&ty.code().to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    Ok(q)
}

fn u16_at(b: &[u8], i: usize) -> Result<u16, DnsError> {
    b.get(i..i + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(DnsError::Malformed)
}

/// Reads a (possibly compressed) name at `pos`; returns it lowercased with
/// a trailing-dot-free dotted form and the position after it.
pub fn read_name(b: &[u8], mut pos: usize) -> Result<(String, usize), DnsError> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *b.get(pos).ok_or(DnsError::Malformed)? as usize;
        if len == 0 {
            return Ok((labels.join("."), end.unwrap_or(pos + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let ptr = (u16_at(b, pos)? & 0x3fff) as usize;
            end.get_or_insert(pos + 2);
            pos = ptr;
            continue;
        }
        if len & 0xc0 != 0 {
            return Err(DnsError::Malformed);
        }
        let l = b.get(pos + 1..pos + 1 + len).ok_or(DnsError::Malformed)?;
        labels.push(String::from_utf8_lossy(l).to_ascii_lowercase());
        pos += 1 + len;
    }
    Err(DnsError::Malformed)
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Validates a reply to `encode_query(id, name, ty)`.
///
/// keepalived only checks ID, QR and RCODE. lvsd also requires the
/// question to be echoed and at least one answer RR of type `ty` owned by
/// `name` (or by a name reached from it through CNAME answers).
pub fn check_reply(b: &[u8], id: u16, name: &str, ty: RrType) -> Result<(), DnsError> {
    let got = u16_at(b, 0)?;
    if got != id {
        return Err(DnsError::WrongId { got, want: id });
    }
    let flags = u16_at(b, 2)?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::NotResponse);
    }
    let rcode = (flags & 0x000f) as u8;
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    let (qd, an) = (u16_at(b, 4)?, u16_at(b, 6)?);
    if qd != 1 {
        return Err(DnsError::QuestionMismatch);
    }
    let (qname, mut pos) = read_name(b, 12)?;
    let want = norm(name);
    if qname != want || u16_at(b, pos)? != ty.code() || u16_at(b, pos + 2)? != 1 {
        return Err(DnsError::QuestionMismatch);
    }
    pos += 4;
    let mut owners = vec![want];
    let mut found = false;
    for _ in 0..an {
        let (owner, p) = read_name(b, pos)?;
        let rtype = u16_at(b, p)?;
        let rdlen = u16_at(b, p + 8)? as usize;
        let rdata = p + 10;
        if b.len() < rdata + rdlen {
            return Err(DnsError::Malformed);
        }
        if rtype == ty.code() && owners.contains(&owner) {
            found = true;
            break;
        }
        if rtype == RrType::Cname.code() {
            let (target, _) = read_name(b, rdata)?;
            if owners.contains(&owner) {
                owners.push(target);
            }
        }
        pos = rdata + rdlen;
    }
    if found {
        Ok(())
    } else {
        Err(DnsError::NoAnswer(ty))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a reply to `q` (a query from `encode_query`) with the given
    /// flags and answers `(owner, type, rdata)`.
    pub fn reply(q: &[u8], flags: u16, answers: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2..4].copy_from_slice(&flags.to_be_bytes());
        r[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for (owner, ty, rdata) in answers {
            r.extend_from_slice(&encode_name(owner).unwrap());
            r.extend_from_slice(&ty.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            r.extend_from_slice(rdata);
        }
        r
    }

    #[test]
    fn query_bytes() {
        let q = encode_query(0x1234, "", RrType::Soa).unwrap();
        assert_eq!(q, [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]);
        let q = encode_query(1, "a.bc.", RrType::A).unwrap();
        assert_eq!(&q[12..], &[1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]);
        assert!(encode_query(1, &"x".repeat(64), RrType::A).is_err());
    }

    #[test]
    fn replies() {
        let q = encode_query(7, "example.org", RrType::A).unwrap();
        let ok = reply(&q, 0x8180, &[("Example.ORG", 1, vec![1, 2, 3, 4])]);
        assert_eq!(check_reply(&ok, 7, "example.org", RrType::A), Ok(()));
        assert_eq!(
            check_reply(&ok, 8, "example.org", RrType::A),
            Err(DnsError::WrongId { got: 7, want: 8 })
        );
        let nx = reply(&q, 0x8183, &[]);
        assert_eq!(
            check_reply(&nx, 7, "example.org", RrType::A),
            Err(DnsError::Rcode(3))
        );
        let empty = reply(&q, 0x8180, &[]);
        assert_eq!(
            check_reply(&empty, 7, "example.org", RrType::A),
            Err(DnsError::NoAnswer(RrType::A))
        );
        let notresp = reply(&q, 0x0100, &[]);
        assert_eq!(
            check_reply(&notresp, 7, "example.org", RrType::A),
            Err(DnsError::NotResponse)
        );
        let wrongtype = reply(&q, 0x8180, &[("example.org", 28, vec![0; 16])]);
        assert!(check_reply(&wrongtype, 7, "example.org", RrType::A).is_err());
        let other_q = encode_query(7, "other.org", RrType::A).unwrap();
        let mism = reply(&other_q, 0x8180, &[("other.org", 1, vec![1, 2, 3, 4])]);
        assert_eq!(
            check_reply(&mism, 7, "example.org", RrType::A),
            Err(DnsError::QuestionMismatch)
        );
        let mut cname_rd = encode_name("real.org").unwrap();
        let chain = reply(
            &q,
            0x8180,
            &[
                ("example.org", 5, std::mem::take(&mut cname_rd)),
                ("real.org", 1, vec![1, 2, 3, 4]),
            ],
        );
        assert_eq!(check_reply(&chain, 7, "example.org", RrType::A), Ok(()));
        assert_eq!(
            check_reply(&ok[..ok.len() - 2], 7, "example.org", RrType::A),
            Err(DnsError::Malformed)
        );
    }

    #[test]
    fn compressed_name() {
        let q = encode_query(9, "example.org", RrType::A).unwrap();
        let mut r = reply(&q, 0x8180, &[]);
        r[6..8].copy_from_slice(&1u16.to_be_bytes());
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
        assert_eq!(check_reply(&r, 9, "example.org", RrType::A), Ok(()));
        // pointer loop
        let mut l = r.clone();
        l[12] = 0xc0;
        l[13] = 12;
        assert!(check_reply(&l, 9, "example.org", RrType::A).is_err());
    }
}
