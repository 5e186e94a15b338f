//! net-snmp's Opaque-wrapped special types (the UCD extension described in RFC 2089's
//! appendix and used by UCD-SNMP-MIB's `laLoadFloat` on every Linux agent): decode and
//! encode, no I/O.
//!
//! SNMP has no float or 64-bit signed type, so net-snmp wraps them in an Opaque (tag 0x44)
//! whose octets are a second BER TLV with tag `9F` + one of `76` (Counter64), `78` (Float),
//! `79` (Double), `7A` (Int64), `7B` (UInt64). No crate decodes these (async-snmp hands the
//! Opaque octets over as they are), hence this module. The acceptance rules are net-snmp
//! 5.9's (`asn_parse_header` and the `asn_parse_*` functions), checked byte for byte against
//! `snmpget` on fixtures served by snmpsim (see the tests):
//! - fewer than three octets, or a first octet other than `9F`, or a second octet outside
//!   the five above: a plain Opaque (printed `OPAQUE: ` + hex);
//! - otherwise the inner length (BER short or long form, not indefinite) must equal the
//!   octets that follow it exactly;
//! - Float: 4 value octets and 7 in all (so the short length form); Double: 8 and 11;
//! - Counter64 / UInt64 / Int64: at most 9 value octets and 12 in all, a ninth octet only
//!   as a leading zero; Counter64/UInt64 are unsigned, Int64 is two's complement.
//!
//! Anything else is malformed, and net-snmp then drops the whole response (the command
//! times out); the engine reports it as [`crate::SnmpError::MalformedOpaque`].

use crate::types::Value;

const TAG1: u8 = 0x9f;
const COUNTER64: u8 = 0x76;
const FLOAT: u8 = 0x78;
const DOUBLE: u8 = 0x79;
const INT64: u8 = 0x7a;
const UINT64: u8 = 0x7b;

/// Why an Opaque that announces a special type is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpaqueError {
    #[error("opaque {kind}: bad inner length encoding")]
    BadLength { kind: &'static str },
    #[error("opaque {kind}: inner length {declared} but {present} octets follow")]
    LengthMismatch {
        kind: &'static str,
        declared: usize,
        present: usize,
    },
    #[error("opaque {kind}: {len} value octets in {total} is not a valid encoding")]
    BadSize {
        kind: &'static str,
        len: usize,
        total: usize,
    },
}

fn kind_name(tag: u8) -> &'static str {
    match tag {
        COUNTER64 => "Counter64",
        FLOAT => "Float",
        DOUBLE => "Double",
        INT64 => "Int64",
        _ => "UInt64",
    }
}

/// Decodes the octets of an Opaque: a typed value for net-snmp's special types, else
/// [`Value::Opaque`] with the octets unchanged.
pub fn decode(b: &[u8]) -> Result<Value, OpaqueError> {
    let tag = match b {
        [
            TAG1,
            t @ (COUNTER64 | FLOAT | DOUBLE | INT64 | UINT64),
            _,
            ..,
        ] => *t,
        _ => return Ok(Value::Opaque(b.to_vec())),
    };
    let kind = kind_name(tag);
    let (declared, content) = inner_length(&b[2..]).ok_or(OpaqueError::BadLength { kind })?;
    if declared != content.len() {
        return Err(OpaqueError::LengthMismatch {
            kind,
            declared,
            present: content.len(),
        });
    }
    let total = b.len();
    let bad = || OpaqueError::BadSize {
        kind,
        len: content.len(),
        total,
    };
    match tag {
        FLOAT => {
            let a: [u8; 4] = content.try_into().map_err(|_| bad())?;
            if total != 7 {
                return Err(bad());
            }
            Ok(Value::OpaqueFloat(f32::from_be_bytes(a)))
        }
        DOUBLE => {
            let a: [u8; 8] = content.try_into().map_err(|_| bad())?;
            if total != 11 {
                return Err(bad());
            }
            Ok(Value::OpaqueDouble(f64::from_be_bytes(a)))
        }
        _ => {
            if total > 12 || content.len() > 9 || (content.len() == 9 && content[0] != 0) {
                return Err(bad());
            }
            let negative = tag == INT64 && content.first().is_some_and(|c| c & 0x80 != 0);
            let start = if negative { u64::MAX } else { 0 };
            let v = content
                .iter()
                .fold(start, |acc, &o| (acc << 8) | u64::from(o));
            Ok(match tag {
                COUNTER64 => Value::OpaqueCounter64(v),
                INT64 => Value::OpaqueInt64(v as i64),
                _ => Value::OpaqueUInt64(v),
            })
        }
    }
}

/// A BER definite length (short form, or long form with 1-8 length octets) and what follows.
fn inner_length(b: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = b.split_first()?;
    if first < 0x80 {
        return Some((usize::from(first), rest));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 8 || rest.len() < n {
        return None;
    }
    let len = rest[..n]
        .iter()
        .fold(0u64, |acc, &o| (acc << 8) | u64::from(o));
    Some((usize::try_from(len).ok()?, &rest[n..]))
}

/// The Opaque octets net-snmp's agent sends for a special-type value (minimal integer
/// encodings), or `None` for other values.
pub fn encode(v: &Value) -> Option<Vec<u8>> {
    let (tag, content) = match *v {
        Value::OpaqueFloat(f) => (FLOAT, f.to_be_bytes().to_vec()),
        Value::OpaqueDouble(d) => (DOUBLE, d.to_be_bytes().to_vec()),
        Value::OpaqueCounter64(c) => (COUNTER64, unsigned_content(c)),
        Value::OpaqueUInt64(u) => (UINT64, unsigned_content(u)),
        Value::OpaqueInt64(i) => (INT64, signed_content(i)),
        _ => return None,
    };
    let mut out = vec![TAG1, tag, content.len() as u8];
    out.extend_from_slice(&content);
    Some(out)
}

/// Minimal two's-complement octets of `i`.
fn signed_content(i: i64) -> Vec<u8> {
    let b = i.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (o, next) = (b[start], b[start + 1]);
        if (o == 0 && next & 0x80 == 0) || (o == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

/// Minimal unsigned octets of `u` (a leading zero when the top bit is set).
fn unsigned_content(u: u64) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(&u.to_be_bytes());
    let start = (0..8)
        .find(|&i| !(v[i] == 0 && v[i + 1] & 0x80 == 0))
        .unwrap_or(8);
    v[start..].to_vec()
}

#[cfg(test)]
mod tests;
