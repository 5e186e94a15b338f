//! Typed Zabbix objects. Zabbix sends almost every id and number as a JSON string
//! (`"hostid": "10084"`, `"clock": "1700000000"`); the helpers in [`de`] turn them into
//! numbers and times while decoding, so the rest of the product never parses strings.
//! Secrets (SNMP passphrases and communities, macro values) are [`Secret`]s: redacted in
//! `Debug` and skipped when a type is serialised.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wardflux_model::inventory::Secret;

/// A host group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HostGroup {
    #[serde(rename(deserialize = "groupid"), deserialize_with = "de::id")]
    pub id: u64,
    pub name: String,
}

/// A host with its groups and interfaces.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Host {
    #[serde(rename(deserialize = "hostid"), deserialize_with = "de::id")]
    pub id: u64,
    /// The technical name (what `zabbix_sender -s` names).
    pub host: String,
    /// The visible name.
    pub name: String,
    /// `status` 0 (monitored).
    #[serde(rename(deserialize = "status"), deserialize_with = "de::zero_is_true")]
    pub enabled: bool,
    /// `maintenance_status` 1.
    #[serde(
        rename(deserialize = "maintenance_status"),
        deserialize_with = "de::flag",
        default
    )]
    pub in_maintenance: bool,
    /// `groups` (before 6.2) or `hostgroups` (6.2+).
    #[serde(default, alias = "hostgroups")]
    pub groups: Vec<HostGroup>,
    #[serde(default)]
    pub interfaces: Vec<Interface>,
}

/// The interface types Zabbix knows (`type` 1-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceKind {
    Agent,
    Snmp,
    Ipmi,
    Jmx,
}

/// A host interface.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Interface {
    #[serde(rename(deserialize = "interfaceid"), deserialize_with = "de::id")]
    pub id: u64,
    #[serde(rename(deserialize = "type"), deserialize_with = "de::interface_kind")]
    pub kind: InterfaceKind,
    #[serde(deserialize_with = "de::flag", default)]
    pub main: bool,
    #[serde(rename(deserialize = "useip"), deserialize_with = "de::flag", default)]
    pub use_ip: bool,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub dns: String,
    /// As Zabbix holds it: a number or a macro (`{$SNMP_PORT}`).
    #[serde(default)]
    pub port: String,
    /// `details` of an SNMP interface (5.0+); `None` for the others (Zabbix sends `[]`).
    #[serde(
        rename(deserialize = "details"),
        deserialize_with = "de::snmp_details",
        default
    )]
    pub snmp: Option<SnmpDetails>,
}

impl Interface {
    /// The address to use: the IP when `use_ip`, else the DNS name.
    pub fn address(&self) -> &str {
        if self.use_ip { &self.ip } else { &self.dns }
    }
}

/// An SNMP interface's details, values as Zabbix gives them (macros unresolved, protocols as
/// Zabbix's codes).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SnmpDetails {
    /// 1, 2 (v2c) or 3.
    #[serde(deserialize_with = "de::num")]
    pub version: u8,
    #[serde(skip_serializing, default)]
    pub community: Secret,
    #[serde(deserialize_with = "de::flag", default)]
    pub bulk: bool,
    #[serde(rename(deserialize = "securityname"), default)]
    pub security_name: String,
    /// 0 noAuthNoPriv, 1 authNoPriv, 2 authPriv.
    #[serde(
        rename(deserialize = "securitylevel"),
        deserialize_with = "de::num",
        default
    )]
    pub security_level: u8,
    /// 0 MD5, 1 SHA1, 2 SHA224, 3 SHA256, 4 SHA384, 5 SHA512.
    #[serde(
        rename(deserialize = "authprotocol"),
        deserialize_with = "de::num",
        default
    )]
    pub auth_protocol: u8,
    #[serde(rename(deserialize = "authpassphrase"), skip_serializing, default)]
    pub auth_passphrase: Secret,
    /// 0 DES, 1 AES128, 2 AES192, 3 AES256, 4 AES192C, 5 AES256C.
    #[serde(
        rename(deserialize = "privprotocol"),
        deserialize_with = "de::num",
        default
    )]
    pub priv_protocol: u8,
    #[serde(rename(deserialize = "privpassphrase"), skip_serializing, default)]
    pub priv_passphrase: Secret,
    #[serde(rename(deserialize = "contextname"), default)]
    pub context_name: String,
}

/// An item's value type (`value_type` 0-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Float,
    /// "Character" in Zabbix's UI.
    String,
    Log,
    Unsigned,
    Text,
    /// 6.4+.
    Binary,
}

impl ValueType {
    /// The code `history.get`'s `history` parameter takes.
    pub fn history_code(self) -> u8 {
        match self {
            Self::Float => 0,
            Self::String => 1,
            Self::Log => 2,
            Self::Unsigned => 3,
            Self::Text => 4,
            Self::Binary => 5,
        }
    }
    /// Float or unsigned: the types with trends and numeric history.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Float | Self::Unsigned)
    }
}

/// An item with its last value.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Item {
    #[serde(rename(deserialize = "itemid"), deserialize_with = "de::id")]
    pub id: u64,
    #[serde(rename(deserialize = "hostid"), deserialize_with = "de::id")]
    pub host_id: u64,
    #[serde(rename(deserialize = "key_"))]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(deserialize_with = "de::value_type")]
    pub value_type: ValueType,
    #[serde(default)]
    pub units: String,
    /// `lastvalue`; `None` before the first value (`lastclock` 0).
    #[serde(rename(deserialize = "lastvalue"), default)]
    pub last_value: Option<String>,
    #[serde(
        rename(deserialize = "lastclock"),
        deserialize_with = "de::opt_clock",
        default
    )]
    pub last_clock: Option<DateTime<Utc>>,
    #[serde(
        rename(deserialize = "status"),
        deserialize_with = "de::zero_is_true",
        default = "yes"
    )]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// One update of a problem (an acknowledgement, a message, a severity change...).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Ack {
    #[serde(deserialize_with = "de::clock")]
    pub clock: DateTime<Utc>,
    #[serde(rename(deserialize = "userid"), deserialize_with = "de::id", default)]
    pub user_id: u64,
    /// The user's login name (`problem.get` gives only the id: [`crate::ZabbixClient::problems`]
    /// looks the names up; empty when the user is not visible to ours).
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub message: String,
    /// Zabbix's action bits: 1 close, 2 acknowledge, 4 message, 8 severity, 16 unacknowledge.
    #[serde(deserialize_with = "de::num", default)]
    pub action: u32,
}

/// An open problem (a trigger event) with its updates and hosts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Problem {
    #[serde(rename(deserialize = "eventid"), deserialize_with = "de::id")]
    pub event_id: u64,
    /// `objectid`: the trigger.
    #[serde(rename(deserialize = "objectid"), deserialize_with = "de::id")]
    pub trigger_id: u64,
    pub name: String,
    /// 0 not classified, 1 information, 2 warning, 3 average, 4 high, 5 disaster.
    #[serde(deserialize_with = "de::num")]
    pub severity: u8,
    #[serde(deserialize_with = "de::clock")]
    pub clock: DateTime<Utc>,
    #[serde(deserialize_with = "de::flag", default)]
    pub acknowledged: bool,
    #[serde(rename(deserialize = "acknowledges"), default)]
    pub acks: Vec<Ack>,
    #[serde(deserialize_with = "de::flag", default)]
    pub suppressed: bool,
    /// (host id, visible host name) of the trigger's hosts, from `trigger.get`.
    #[serde(default)]
    pub hosts: Vec<(u64, String)>,
}

/// A history value: numbers for float/unsigned items, text for the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HistoryValue {
    Number(f64),
    Text(String),
}

impl HistoryValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(v) => Some(*v),
            Self::Text(_) => None,
        }
    }
}

/// One history value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    pub clock: DateTime<Utc>,
    pub value: HistoryValue,
}

/// One hour of trends of a numeric item.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TrendPoint {
    #[serde(deserialize_with = "de::clock")]
    pub clock: DateTime<Utc>,
    #[serde(deserialize_with = "de::num")]
    pub num: u64,
    #[serde(rename(deserialize = "value_min"), deserialize_with = "de::num")]
    pub min: f64,
    #[serde(rename(deserialize = "value_avg"), deserialize_with = "de::num")]
    pub avg: f64,
    #[serde(rename(deserialize = "value_max"), deserialize_with = "de::num")]
    pub max: f64,
}

/// A user macro (`{$NAME}`) of a host or the global ones. Values of secret macros (type 1)
/// are never returned by the API: their `value` is empty.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Macro {
    #[serde(rename(deserialize = "macro"))]
    pub name: String,
    #[serde(skip_serializing, default)]
    pub value: Secret,
    /// `type` 1 (secret text).
    #[serde(rename(deserialize = "type"), deserialize_with = "de::flag", default)]
    pub secret: bool,
}

/// A host as the migration needs it: its groups and interfaces, the names of its templates,
/// and the user macros that apply to it (the global ones, overridden by the host's own).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportHost {
    pub host: Host,
    pub templates: Vec<String>,
    pub macros: BTreeMap<String, Secret>,
}

impl ImportHost {
    /// `text` with every `{$NAME}` this host knows replaced by its value; unknown macros
    /// stay as they are.
    pub fn resolve(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{$") {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            match tail.find('}') {
                Some(end) => {
                    let name = &tail[..=end];
                    match self.macros.get(name) {
                        Some(v) => out.push_str(v.expose()),
                        None => out.push_str(name),
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Serde helpers for Zabbix's stringly typed JSON: each accepts the string form Zabbix uses
/// and the plain JSON number.
pub mod de {
    use chrono::{DateTime, Utc};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::{InterfaceKind, SnmpDetails, ValueType};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrNum {
        Str(String),
        Num(serde_json::Number),
    }

    fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match StrOrNum::deserialize(d)? {
            StrOrNum::Str(s) => s,
            StrOrNum::Num(n) => n.to_string(),
        })
    }

    /// A number sent as a string or a number.
    pub fn num<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let s = text(d)?;
        s.trim()
            .parse()
            .map_err(|e| D::Error::custom(format!("{s:?}: {e}")))
    }

    /// An object id.
    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        num(d)
    }

    /// "1" is true, anything else false.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(text(d)?.trim() == "1")
    }

    /// "0" is true (Zabbix's `status`: 0 enabled/monitored, 1 disabled).
    pub fn zero_is_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(text(d)?.trim() == "0")
    }

    fn to_time<E: Error>(secs: i64) -> Result<DateTime<Utc>, E> {
        DateTime::from_timestamp(secs, 0).ok_or_else(|| E::custom(format!("clock {secs}")))
    }

    /// Seconds since the epoch.
    pub fn clock<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        to_time(num::<D, i64>(d)?)
    }

    /// Seconds since the epoch, 0 meaning never.
    pub fn opt_clock<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match num::<D, i64>(d)? {
            0 => Ok(None),
            s => to_time(s).map(Some),
        }
    }

    pub fn interface_kind<'de, D: Deserializer<'de>>(d: D) -> Result<InterfaceKind, D::Error> {
        match num::<D, u8>(d)? {
            1 => Ok(InterfaceKind::Agent),
            2 => Ok(InterfaceKind::Snmp),
            3 => Ok(InterfaceKind::Ipmi),
            4 => Ok(InterfaceKind::Jmx),
            n => Err(D::Error::custom(format!("interface type {n}"))),
        }
    }

    pub fn value_type<'de, D: Deserializer<'de>>(d: D) -> Result<ValueType, D::Error> {
        match num::<D, u8>(d)? {
            0 => Ok(ValueType::Float),
            1 => Ok(ValueType::String),
            2 => Ok(ValueType::Log),
            3 => Ok(ValueType::Unsigned),
            4 => Ok(ValueType::Text),
            5 => Ok(ValueType::Binary),
            n => Err(D::Error::custom(format!("value type {n}"))),
        }
    }

    /// An interface's `details`: an object with `version` for SNMP interfaces, `[]` else.
    pub fn snmp_details<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SnmpDetails>, D::Error> {
        match Value::deserialize(d)? {
            v @ Value::Object(_) if v.get("version").is_some() => serde_json::from_value(v)
                .map(Some)
                .map_err(D::Error::custom),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_from_zabbix_json() {
        let h: Host = serde_json::from_value(serde_json::json!({
            "hostid": "10501", "host": "sw1", "name": "Switch 1", "status": "0",
            "maintenance_status": "1",
            "hostgroups": [{"groupid": "22", "name": "Switches"}],
            "interfaces": [
                {"interfaceid": "7", "type": "1", "main": "1", "useip": "1", "ip": "127.0.0.1",
                 "dns": "", "port": "10050", "details": []},
                {"interfaceid": "8", "type": "2", "main": "1", "useip": "0", "ip": "",
                 "dns": "sw1.example", "port": "{$SNMP_PORT}",
                 "details": {"version": "3", "bulk": "1", "community": "", "securityname": "u",
                             "securitylevel": "2", "authprotocol": "1", "authpassphrase": "ap",
                             "privprotocol": "1", "privpassphrase": "pp", "contextname": ""}}
            ]
        }))
        .unwrap();
        assert_eq!(h.id, 10501);
        assert!(h.enabled && h.in_maintenance);
        assert_eq!(h.groups[0].id, 22);
        assert_eq!(h.interfaces[0].snmp, None);
        let snmp = h.interfaces[1].snmp.as_ref().unwrap();
        assert_eq!((snmp.version, snmp.security_level), (3, 2));
        assert_eq!(snmp.priv_passphrase.expose(), "pp");
        assert_eq!(h.interfaces[1].address(), "sw1.example");
        let dbg = format!("{h:?}");
        assert!(!dbg.contains("\"ap\"") && !dbg.contains("\"pp\""), "{dbg}");
        let json = serde_json::to_string(&h).unwrap();
        assert!(!json.contains("passphrase"), "{json}");
    }

    #[test]
    fn macros_resolve_and_unknown_ones_stay() {
        let h = ImportHost {
            host: serde_json::from_value(serde_json::json!({
                "hostid": "1", "host": "h", "name": "h", "status": "1"
            }))
            .unwrap(),
            templates: vec![],
            macros: [("{$COMM}".to_string(), Secret::new("s3cret"))]
                .into_iter()
                .collect(),
        };
        assert_eq!(h.resolve("{$COMM}"), "s3cret");
        assert_eq!(h.resolve("a{$COMM}b{$X}c{$"), "as3cretb{$X}c{$");
    }
}
