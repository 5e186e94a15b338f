//! Byte fixtures with the text net-snmp 5.9.3's `snmpget -On` printed for each when snmpsim
//! served it (`Timeout` = net-snmp dropped the response as malformed).

use super::*;
use crate::render::value_text;

/// (Opaque octets in hex, what net-snmp printed).
const FIXTURES: &[(&str, &str)] = &[
    // laLoadFloat-style floats and doubles (a double prints as "Float" too)
    ("9f780441200000", "Opaque: Float: 10.000000"),
    ("9f79084024000000000000", "Opaque: Float: 10.000000"),
    ("9f78043dcccccd", "Opaque: Float: 0.100000"),
    ("9f7804501502f9", "Opaque: Float: 10000000000.000000"),
    (
        "9f7908c1e312d000000000",
        "Opaque: Float: -2560000000.000000",
    ),
    ("9f78047fc00000", "Opaque: Float: nan"),
    ("9f7804ffc00000", "Opaque: Float: -nan"),
    ("9f7804ff800000", "Opaque: Float: -inf"),
    ("9f79087ff0000000000000", "Opaque: Float: inf"),
    ("9f78043f800001", "Opaque: Float: 1.000000"),
    ("9f78040000803f", "Opaque: Float: 0.000000"),
    // Counter64 / UInt64: unsigned, up to 8 octets plus a leading zero, long-form length
    ("9f760501000000ff", "Opaque: Counter64: 4294967551"),
    ("9f7601ff", "Opaque: Counter64: 255"),
    ("9f7600", "Opaque: Counter64: 0"),
    ("9f760100", "Opaque: Counter64: 0"),
    (
        "9f7608ffffffffffffffff",
        "Opaque: Counter64: 18446744073709551615",
    ),
    (
        "9f760900ffffffffffffffff",
        "Opaque: Counter64: 18446744073709551615",
    ),
    ("9f760201ff", "Opaque: Counter64: 511"),
    ("9f76810105", "Opaque: Counter64: 5"),
    ("9f76850000000001ff", "Opaque: Counter64: 255"),
    ("9f7b0101", "Opaque: UInt64: 1"),
    ("9f7b01ff", "Opaque: UInt64: 255"),
    (
        "9f7b08ffffffffffffffff",
        "Opaque: UInt64: 18446744073709551615",
    ),
    (
        "9f7b8108ffffffffffffffff",
        "Opaque: UInt64: 18446744073709551615",
    ),
    ("9f7b820001ff", "Opaque: UInt64: 255"),
    // Int64: two's complement
    ("9f7a01ff", "Opaque: Int64: -1"),
    ("9f7a0180", "Opaque: Int64: -128"),
    ("9f7a00", "Opaque: Int64: 0"),
    ("9f7a0201ff", "Opaque: Int64: 511"),
    (
        "9f7a087fffffffffffffff",
        "Opaque: Int64: 9223372036854775807",
    ),
    ("9f7a08ffffffffffffffff", "Opaque: Int64: -1"),
    ("9f7a0900ffffffffffffffff", "Opaque: Int64: -1"),
    ("9f7a810105", "Opaque: Int64: 5"),
    ("9f7a81010f", "Opaque: Int64: 15"),
    // not special: plain Opaque in hex
    ("0102030405", "OPAQUE: 01 02 03 04 05 "),
    ("", "OPAQUE: "),
    ("9f", "OPAQUE: 9F "),
    ("9f76", "OPAQUE: 9F 76 "),
    ("9f7a", "OPAQUE: 9F 7A "),
    ("9f7d0101", "OPAQUE: 9F 7D 01 01 "),
    ("9f770101", "OPAQUE: 9F 77 01 01 "),
    ("9f1f0101", "OPAQUE: 9F 1F 01 01 "),
    // malformed: net-snmp drops the response
    ("9f7605010000000000", "Timeout"),
    ("9f7b09ffffffffffffffffff", "Timeout"),
    ("9f78044120000000", "Timeout"),
    ("9f7805412000000000", "Timeout"),
    ("9f780341200000", "Timeout"),
    ("9f7804412000", "Timeout"),
    ("9f7804000001", "Timeout"),
    ("9f78810441200000", "Timeout"),
    ("9f790400000000", "Timeout"),
    ("9f7801ff", "Timeout"),
    ("9f7802", "Timeout"),
    ("9f7601", "Timeout"),
    ("9f78044120", "Timeout"),
    ("9f7680", "Timeout"),
    ("9f7a0101ff", "Timeout"),
    ("9f7a0000", "Timeout"),
    ("9f7b05", "Timeout"),
    ("9f7b0a00000000000000000001", "Timeout"),
    ("9f7a09ff0000000000000001", "Timeout"),
    ("9f760a0000000000000000000001", "Timeout"),
    ("9f7a0a0000000000000000000001", "Timeout"),
    ("9f79090000000000000000000000", "Timeout"),
    ("9f7908000000000000000000", "Timeout"),
    ("9f790800000000000000000000", "Timeout"),
    ("9f760900ffffffffffffffff00", "Timeout"),
    ("9f790800000000000000008000", "Timeout"),
    ("9f7904400921fb54442d18", "Timeout"),
    ("9f76820009ffffffffffffffffff", "Timeout"),
    ("9f7682000900ffffffffffffffff", "Timeout"),
    ("9f768400000008ffffffffffffffff", "Timeout"),
    ("9f7a830000087fffffffffffffff", "Timeout"),
    ("9f7b8109ffffffffffffffff", "Timeout"),
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_fixture_decodes_and_renders_as_net_snmp_printed_it() {
    for (hex, want) in FIXTURES {
        let got = match decode(&unhex(hex)) {
            Ok(v) => value_text(&v),
            Err(_) => "Timeout".to_string(),
        };
        assert_eq!(&got, want, "fixture {hex}");
    }
}

#[test]
fn special_types_are_numbers() {
    let v = decode(&unhex("9f780441200000")).unwrap();
    assert_eq!(v, Value::OpaqueFloat(10.0));
    assert_eq!(v.as_f64(), Some(10.0));
    assert_eq!(v.type_name(), "opaque_float");
    let v = decode(&unhex("9f7a01ff")).unwrap();
    assert_eq!(v, Value::OpaqueInt64(-1));
    assert_eq!((v.as_i64(), v.as_u64()), (Some(-1), None));
    let v = decode(&unhex("9f760900ffffffffffffffff")).unwrap();
    assert_eq!(v, Value::OpaqueCounter64(u64::MAX));
    assert_eq!(v.as_u64(), Some(u64::MAX));
    assert_eq!(
        decode(&unhex("9f7b01ff")).unwrap(),
        Value::OpaqueUInt64(255)
    );
    assert_eq!(
        decode(&unhex("9f79084024000000000000")).unwrap(),
        Value::OpaqueDouble(10.0)
    );
}

#[test]
fn malformed_says_why() {
    assert_eq!(
        decode(&unhex("9f7605010000000000"))
            .unwrap_err()
            .to_string(),
        "opaque Counter64: inner length 5 but 6 octets follow"
    );
    assert_eq!(
        decode(&unhex("9f7680")).unwrap_err(),
        OpaqueError::BadLength { kind: "Counter64" }
    );
    assert_eq!(
        decode(&unhex("9f78810441200000")).unwrap_err().to_string(),
        "opaque Float: 4 value octets in 8 is not a valid encoding"
    );
}

#[test]
fn encode_is_what_net_snmp_agents_send_and_round_trips() {
    assert_eq!(
        encode(&Value::OpaqueFloat(10.0)).unwrap(),
        unhex("9f780441200000")
    );
    assert_eq!(encode(&Value::OpaqueInt64(-1)).unwrap(), unhex("9f7a01ff"));
    assert_eq!(
        encode(&Value::OpaqueInt64(-128)).unwrap(),
        unhex("9f7a0180")
    );
    assert_eq!(
        encode(&Value::OpaqueInt64(128)).unwrap(),
        unhex("9f7a020080")
    );
    assert_eq!(
        encode(&Value::OpaqueCounter64(u64::MAX)).unwrap(),
        unhex("9f760900ffffffffffffffff")
    );
    assert_eq!(encode(&Value::OpaqueUInt64(0)).unwrap(), unhex("9f7b0100"));
    assert_eq!(encode(&Value::Integer(1)), None);
    for v in [
        Value::OpaqueFloat(-0.5),
        Value::OpaqueDouble(1e300),
        Value::OpaqueCounter64(0),
        Value::OpaqueCounter64(0x80),
        Value::OpaqueCounter64(1 << 63),
        Value::OpaqueUInt64(12345678901234),
        Value::OpaqueInt64(i64::MIN),
        Value::OpaqueInt64(i64::MAX),
        Value::OpaqueInt64(-129),
        Value::OpaqueInt64(0),
    ] {
        assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v, "{v:?}");
    }
}
