//! net-snmp's text rendering of values, as `snmpget -On` prints them with no MIBs loaded
//! (`-M /dev/null -m ""`). Pure functions, no I/O.
//!
//! Rules followed (net-snmp 5.9 `mib.c`, `sprint_realloc_by_type` without MIB hints):
//! - OCTET STRING: empty → `""`; if every octet is printable ASCII (C `isprint`, 0x20..=0x7e)
//!   or white space (`isspace`) → `STRING: "…"` with `"` and `\` escaped; otherwise `Hex-STRING: ` with `%02X ` per
//!   octet and a newline after each full line of 16 octets (no trailing space on full lines).
//! - TimeTicks: `Timeticks: (N) D days, H:MM:SS.CC` (`1 day, `; no day part when zero).
//! - The exceptions print their fixed sentences.
//! - Opaque-wrapped numbers as `sprint_realloc_opaque` with `NETSNMP_WITH_OPAQUE_SPECIAL_TYPES`
//!   (Debian's build): `Opaque: Float: %f` (doubles too), `Opaque: Counter64: `, `Int64: `,
//!   `UInt64: `; any other Opaque as `OPAQUE: ` and hex.

use std::fmt::Write as _;

use crate::types::Value;

/// The net-snmp text of one value (the part after `OID = `).
pub fn value_text(v: &Value) -> String {
    let mut s = String::with_capacity(32);
    write_value(&mut s, v);
    s
}

/// Appends the net-snmp text of one value to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Integer(i) => labelled(out, "INTEGER: ", i),
        Value::OctetString(b) => write_octet_string(out, b),
        Value::Null => out.push_str("NULL"),
        Value::ObjectIdentifier(o) => {
            let _ = write!(out, "OID: {o}");
        }
        Value::IpAddress(a) => {
            let _ = write!(out, "IpAddress: {}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        Value::Counter32(c) => labelled(out, "Counter32: ", c),
        Value::Gauge32(g) => labelled(out, "Gauge32: ", g),
        Value::UInteger32(g) => labelled(out, "UInteger32: ", g),
        Value::TimeTicks(t) => {
            let _ = write!(out, "Timeticks: ({t}) ");
            write_uptime(out, *t);
        }
        Value::Opaque(b) => {
            out.push_str("OPAQUE: ");
            write_hex(out, b);
        }
        // net-snmp's sprint_realloc_double says "Float" for doubles too.
        Value::OpaqueFloat(f) => write_float(out, f64::from(*f), f.is_sign_negative()),
        Value::OpaqueDouble(d) => write_float(out, *d, d.is_sign_negative()),
        Value::OpaqueCounter64(c) => labelled(out, "Opaque: Counter64: ", c),
        Value::OpaqueInt64(i) => labelled(out, "Opaque: Int64: ", i),
        Value::OpaqueUInt64(u) => labelled(out, "Opaque: UInt64: ", u),
        Value::NsapAddress(b) => {
            out.push_str("NsapAddress: ");
            for o in b.iter() {
                let _ = write!(out, "{o:02X}");
            }
        }
        Value::Counter64(c) => labelled(out, "Counter64: ", c),
        Value::NoSuchObject => out.push_str("No Such Object available on this agent at this OID"),
        Value::NoSuchInstance => {
            out.push_str("No Such Instance currently exists at this OID");
        }
        Value::EndOfMibView => out.push_str(
            "No more variables left in this MIB View (It is past the end of the MIB tree)",
        ),
        Value::Unknown { tag, data } => {
            let _ = write!(out, "Variable has bad type (0x{tag:02x}): ");
            write_hex(out, data);
        }
    }
}

/// `label` then the number.
fn labelled(out: &mut String, label: &str, n: impl std::fmt::Display) {
    out.push_str(label);
    let _ = write!(out, "{n}");
}

fn is_print(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// C `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Whether net-snmp would print these octets as text rather than `Hex-STRING`: every octet
/// is printable or white space (C locale).
pub fn is_text(b: &[u8]) -> bool {
    b.iter().all(|&c| is_print(c) || is_space(c))
}

/// OCTET STRING as net-snmp guesses it (text or hex).
pub fn write_octet_string(out: &mut String, b: &[u8]) {
    if b.is_empty() {
        out.push_str("\"\"");
        return;
    }
    if is_text(b) {
        out.push_str("STRING: \"");
        for &c in b {
            if c == b'"' || c == b'\\' {
                out.push('\\');
            }
            out.push(c as char);
        }
        out.push('"');
    } else {
        out.push_str("Hex-STRING: ");
        write_hex(out, b);
    }
}

/// net-snmp 5.9's `sprint_realloc_hexstring`: `XX ` per octet, a newline after each full
/// line of 16 octets when more follow.
pub fn write_hex(out: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = b;
    while rest.len() >= 16 {
        for &o in &rest[..16] {
            out.push(HEX[(o >> 4) as usize] as char);
            out.push(HEX[(o & 15) as usize] as char);
            out.push(' ');
        }
        rest = &rest[16..];
        if !rest.is_empty() {
            out.push('\n');
        }
    }
    for &o in rest {
        out.push(HEX[(o >> 4) as usize] as char);
        out.push(HEX[(o & 15) as usize] as char);
        out.push(' ');
    }
}

/// `Opaque: Float: ` and C's `%f` of `d` (glibc spells the non-finite values `nan`, `-nan`,
/// `inf`, `-inf`).
fn write_float(out: &mut String, d: f64, negative: bool) {
    out.push_str("Opaque: Float: ");
    if d.is_nan() {
        out.push_str(if negative { "-nan" } else { "nan" });
    } else if d.is_infinite() {
        out.push_str(if negative { "-inf" } else { "inf" });
    } else {
        let _ = write!(out, "{d:.6}");
    }
}

/// net-snmp's `uptime_string`: `D days, H:MM:SS.CC`.
pub fn write_uptime(out: &mut String, ticks: u32) {
    let centi = ticks % 100;
    let secs = ticks / 100;
    let days = secs / 86400;
    let hours = (secs / 3600) % 24;
    let minutes = (secs / 60) % 60;
    let seconds = secs % 60;
    let _ = match days {
        0 => write!(out, "{hours}:{minutes:02}:{seconds:02}.{centi:02}"),
        1 => write!(out, "1 day, {hours}:{minutes:02}:{seconds:02}.{centi:02}"),
        d => write!(
            out,
            "{d} days, {hours}:{minutes:02}:{seconds:02}.{centi:02}"
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_hex() {
        assert_eq!(value_text(&Value::OctetString(vec![])), "\"\"");
        assert_eq!(
            value_text(&Value::OctetString(b"a \"q\" \\".to_vec())),
            r#"STRING: "a \"q\" \\""#
        );
        assert_eq!(
            value_text(&Value::OctetString(vec![0, 0x1a, 0xff])),
            "Hex-STRING: 00 1A FF "
        );
        let v: Vec<u8> = (0u8..18).collect();
        assert_eq!(
            value_text(&Value::OctetString(v)),
            "Hex-STRING: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F \n10 11 "
        );
        let v: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            value_text(&Value::OctetString(v)),
            "Hex-STRING: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F "
        );
        assert_eq!(
            value_text(&Value::OpaqueFloat(f32::from_be_bytes([
                0x40, 0xb6, 0x1c, 0
            ]))),
            "Opaque: Float: 5.690918"
        );
    }

    #[test]
    fn timeticks() {
        assert_eq!(
            value_text(&Value::TimeTicks(12345)),
            "Timeticks: (12345) 0:02:03.45"
        );
        assert_eq!(
            value_text(&Value::TimeTicks(8_640_000)),
            "Timeticks: (8640000) 1 day, 0:00:00.00"
        );
        assert_eq!(
            value_text(&Value::TimeTicks(u32::MAX)),
            "Timeticks: (4294967295) 497 days, 2:27:52.95"
        );
    }

    #[test]
    fn others() {
        assert_eq!(
            value_text(&Value::IpAddress([10, 0, 0, 1])),
            "IpAddress: 10.0.0.1"
        );
        assert_eq!(
            value_text(&Value::ObjectIdentifier("1.3.6.1".parse().unwrap())),
            "OID: .1.3.6.1"
        );
        assert_eq!(
            value_text(&Value::Counter64(u64::MAX)),
            "Counter64: 18446744073709551615"
        );
        assert_eq!(value_text(&Value::Integer(-5)), "INTEGER: -5");
        assert_eq!(
            value_text(&Value::NoSuchObject),
            "No Such Object available on this agent at this OID"
        );
    }
}
