//! The crate's own value types: [`Oid`], [`Value`], [`VarBind`].
//!
//! They wrap or mirror the engine's types so that no other crate sees the
//! underlying SNMP library: replacing it touches this crate only.

use std::fmt;
use std::str::FromStr;

use crate::error::SnmpError;

/// An object identifier. Displays numerically with a leading dot (`.1.3.6.1.2.1.1.1.0`),
/// as net-snmp prints with `-On`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(pub(crate) async_snmp::Oid);

impl Oid {
    /// Builds an OID from its arcs.
    pub fn from_arcs(arcs: &[u32]) -> Self {
        Oid(async_snmp::Oid::from_slice(arcs))
    }
    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        self.0.arcs()
    }
    /// Whether `self` lies inside the subtree rooted at `root` (or equals it).
    pub fn starts_with(&self, root: &Oid) -> bool {
        self.0.starts_with(&root.0)
    }
    /// `self` with one more arc appended.
    pub fn child(&self, arc: u32) -> Oid {
        Oid(self.0.child(arc))
    }
    /// Number of arcs.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no arcs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for Oid {
    type Err = SnmpError;
    /// Parses `1.3.6.1` or `.1.3.6.1` (numeric only: no MIBs are loaded).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.strip_prefix('.').unwrap_or(s);
        if t.is_empty() {
            return Err(SnmpError::InvalidOid(s.to_string()));
        }
        let mut arcs = Vec::with_capacity(16);
        for part in t.split('.') {
            let arc: u32 = part
                .parse()
                .map_err(|_| SnmpError::InvalidOid(s.to_string()))?;
            arcs.push(arc);
        }
        if arcs.len() > 128 {
            return Err(SnmpError::InvalidOid(s.to_string()));
        }
        Ok(Oid::from_arcs(&arcs))
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for arc in self.arcs() {
            write!(f, ".{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl serde::Serialize for Oid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Oid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An SNMP value, every SMI type plus the three v2 exceptions, each distinct, plus
/// net-snmp's Opaque-wrapped special types decoded as numbers ([`crate::opaque`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i32),
    OctetString(Vec<u8>),
    Null,
    ObjectIdentifier(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    Gauge32(u32),
    /// The historic UInteger32 tag (0x47); semantically a Gauge32.
    UInteger32(u32),
    TimeTicks(u32),
    /// An Opaque that is not one of net-snmp's special types: its octets.
    Opaque(Vec<u8>),
    /// Opaque-wrapped Float (`9F 78`), e.g. UCD-SNMP-MIB laLoadFloat.
    OpaqueFloat(f32),
    /// Opaque-wrapped Double (`9F 79`).
    OpaqueDouble(f64),
    /// Opaque-wrapped Counter64 (`9F 76`), for SNMPv1 agents.
    OpaqueCounter64(u64),
    /// Opaque-wrapped Integer64 (`9F 7A`).
    OpaqueInt64(i64),
    /// Opaque-wrapped Unsigned64 (`9F 7B`).
    OpaqueUInt64(u64),
    NsapAddress(Vec<u8>),
    Counter64(u64),
    /// v2 exception: the object is not implemented by the agent.
    NoSuchObject,
    /// v2 exception: the object exists but not this instance.
    NoSuchInstance,
    /// v2 exception: the walk ran past the end of the agent's MIB view.
    EndOfMibView,
    /// A tag this crate does not know, kept verbatim.
    Unknown {
        tag: u8,
        data: Vec<u8>,
    },
}

impl Value {
    /// Stable snake_case type name used in JSON output.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Integer(_) => "integer",
            Value::OctetString(_) => "octet_string",
            Value::Null => "null",
            Value::ObjectIdentifier(_) => "oid",
            Value::IpAddress(_) => "ip_address",
            Value::Counter32(_) => "counter32",
            Value::Gauge32(_) => "gauge32",
            Value::UInteger32(_) => "uinteger32",
            Value::TimeTicks(_) => "timeticks",
            Value::Opaque(_) => "opaque",
            Value::OpaqueFloat(_) => "opaque_float",
            Value::OpaqueDouble(_) => "opaque_double",
            Value::OpaqueCounter64(_) => "opaque_counter64",
            Value::OpaqueInt64(_) => "opaque_int64",
            Value::OpaqueUInt64(_) => "opaque_uint64",
            Value::NsapAddress(_) => "nsap_address",
            Value::Counter64(_) => "counter64",
            Value::NoSuchObject => "no_such_object",
            Value::NoSuchInstance => "no_such_instance",
            Value::EndOfMibView => "end_of_mib_view",
            Value::Unknown { .. } => "unknown",
        }
    }
    /// Whether this is one of the three v2 exception values.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }
    /// The value as an unsigned number when it is a numeric type (counters, gauges,
    /// ticks, non-negative integers).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Integer(i) => u64::try_from(i).ok(),
            Value::Counter32(v)
            | Value::Gauge32(v)
            | Value::UInteger32(v)
            | Value::TimeTicks(v) => Some(u64::from(v)),
            Value::Counter64(v) | Value::OpaqueCounter64(v) | Value::OpaqueUInt64(v) => Some(v),
            Value::OpaqueInt64(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }
    /// The value as a signed number when it is numeric.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Integer(i) => Some(i64::from(i)),
            Value::OpaqueInt64(i) => Some(i),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }
    /// The value as a float when it is numeric (integers, counters, gauges, ticks and the
    /// Opaque-wrapped numbers; 64-bit integers may round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::OpaqueFloat(f) => Some(f64::from(f)),
            Value::OpaqueDouble(d) => Some(d),
            Value::Integer(i) => Some(f64::from(i)),
            Value::OpaqueInt64(i) => Some(i as f64),
            _ => self.as_u64().map(|v| v as f64),
        }
    }
    /// The octets of an OctetString/Opaque/NsapAddress.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::OctetString(b) | Value::Opaque(b) | Value::NsapAddress(b) => Some(b),
            _ => None,
        }
    }

    /// The crate's value for the engine's; an Opaque announcing one of net-snmp's special
    /// types must be well formed.
    pub(crate) fn from_lib(v: async_snmp::Value) -> Result<Value, crate::opaque::OpaqueError> {
        use async_snmp::Value as L;
        Ok(match v {
            L::Integer(i) => Value::Integer(i),
            L::OctetString(b) => Value::OctetString(b.to_vec()),
            L::Null => Value::Null,
            L::ObjectIdentifier(o) => Value::ObjectIdentifier(Oid(o)),
            L::IpAddress(a) => Value::IpAddress(a),
            L::Counter32(v) => Value::Counter32(v),
            L::Gauge32(v) => Value::Gauge32(v),
            L::UInteger32(v) => Value::UInteger32(v),
            L::TimeTicks(v) => Value::TimeTicks(v),
            L::Opaque(b) => crate::opaque::decode(&b)?,
            L::Nsap(b) => Value::NsapAddress(b.to_vec()),
            L::Counter64(v) => Value::Counter64(v),
            L::NoSuchObject => Value::NoSuchObject,
            L::NoSuchInstance => Value::NoSuchInstance,
            L::EndOfMibView => Value::EndOfMibView,
            L::Unknown { tag, data } => Value::Unknown {
                tag,
                data: data.to_vec(),
            },
            // The library's enum is closed today; keep any future variant visible.
            #[allow(unreachable_patterns)]
            other => Value::Unknown {
                tag: 0,
                data: format!("{other:?}").into_bytes(),
            },
        })
    }

    pub(crate) fn to_lib(&self) -> async_snmp::Value {
        use async_snmp::Value as L;
        match self {
            Value::Integer(i) => L::Integer(*i),
            Value::OctetString(b) => L::OctetString(b.clone().into()),
            Value::Null => L::Null,
            Value::ObjectIdentifier(o) => L::ObjectIdentifier(o.0.clone()),
            Value::IpAddress(a) => L::IpAddress(*a),
            Value::Counter32(v) => L::Counter32(*v),
            Value::Gauge32(v) => L::Gauge32(*v),
            Value::UInteger32(v) => L::UInteger32(*v),
            Value::TimeTicks(v) => L::TimeTicks(*v),
            Value::Opaque(b) => L::Opaque(b.clone().into()),
            Value::OpaqueFloat(_)
            | Value::OpaqueDouble(_)
            | Value::OpaqueCounter64(_)
            | Value::OpaqueInt64(_)
            | Value::OpaqueUInt64(_) => {
                L::Opaque(crate::opaque::encode(self).unwrap_or_default().into())
            }
            Value::NsapAddress(b) => L::Nsap(b.clone().into()),
            Value::Counter64(v) => L::Counter64(*v),
            Value::NoSuchObject => L::NoSuchObject,
            Value::NoSuchInstance => L::NoSuchInstance,
            Value::EndOfMibView => L::EndOfMibView,
            Value::Unknown { tag, data } => L::Unknown {
                tag: *tag,
                data: data.clone().into(),
            },
        }
    }
}

/// One variable binding: an OID and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct VarBind {
    pub oid: Oid,
    pub value: Value,
}

impl VarBind {
    /// Converts the engine's varbinds; a malformed special Opaque fails the whole response,
    /// as net-snmp drops such a response.
    pub(crate) fn from_lib_all(
        vbs: Vec<async_snmp::VarBind>,
        target: std::net::SocketAddr,
    ) -> Result<Vec<VarBind>, SnmpError> {
        vbs.into_iter()
            .map(|vb| match Value::from_lib(vb.value) {
                Ok(value) => Ok(VarBind {
                    oid: Oid(vb.oid),
                    value,
                }),
                Err(source) => Err(SnmpError::MalformedOpaque {
                    target,
                    oid: Box::new(Oid(vb.oid)),
                    source,
                }),
            })
            .collect()
    }
}

/// The net-snmp rendering `OID = VALUE` (without newline).
impl fmt::Display for VarBind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {}",
            self.oid,
            crate::render::value_text(&self.value)
        )
    }
}
