//! High-level calls behind the REST API: [`probe`] (the "test" endpoint) and [`poll`].

use std::time::Instant;

use serde::Serialize;

use crate::client::SnmpClient;
use crate::error::SnmpError;
use crate::target::Target;
use crate::types::{Oid, Value, VarBind};

/// A typed failure reason for API responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeError {
    /// snake_case reason: timeout, auth_failure, unknown_user, unknown_engine_id,
    /// not_in_time_window, decryption_error, unsupported_security_level, io, ...
    pub kind: String,
    pub message: String,
}

impl From<&SnmpError> for ProbeError {
    fn from(e: &SnmpError) -> Self {
        ProbeError {
            kind: e.kind().to_string(),
            message: e.to_string(),
        }
    }
}

/// Result of a reachability test: system group and round-trip time, or a typed reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    pub reachable: bool,
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    pub sys_uptime_ticks: Option<u32>,
    pub rtt_ms: Option<f64>,
    pub error: Option<ProbeError>,
}

/// GETs sysDescr.0, sysObjectID.0 and sysUpTime.0 in one PDU.
pub async fn probe(client: &SnmpClient, target: &Target) -> ProbeReport {
    let oids = [
        crate::oids::SYS_DESCR.oid(),
        crate::oids::SYS_OBJECT_ID.oid(),
        crate::oids::SYS_UPTIME.oid(),
    ];
    let start = Instant::now();
    match client.get(target, &oids).await {
        Ok(vbs) => {
            let rtt = start.elapsed().as_secs_f64() * 1000.0;
            let descr = crate::client::find(&vbs, &oids[0]).and_then(|v| match v {
                Value::OctetString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            });
            let objid = crate::client::find(&vbs, &oids[1]).and_then(|v| match v {
                Value::ObjectIdentifier(o) => Some(o.to_string()),
                _ => None,
            });
            let up = crate::client::find(&vbs, &oids[2]).and_then(|v| match v {
                Value::TimeTicks(t) => Some(*t),
                _ => None,
            });
            ProbeReport {
                reachable: true,
                sys_descr: descr,
                sys_object_id: objid,
                sys_uptime_ticks: up,
                rtt_ms: Some(rtt),
                error: None,
            }
        }
        Err(e) => ProbeReport {
            reachable: false,
            sys_descr: None,
            sys_object_id: None,
            sys_uptime_ticks: None,
            rtt_ms: None,
            error: Some(ProbeError::from(&e)),
        },
    }
}

/// One varbind for JSON: `value` is a number for integers/counters/gauges/ticks, a string
/// otherwise (text, or net-snmp's rendering); `text` is net-snmp's full rendering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarBindView {
    pub oid: String,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub value: serde_json::Value,
    pub text: String,
}

impl From<&VarBind> for VarBindView {
    fn from(vb: &VarBind) -> Self {
        let value = match &vb.value {
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Counter32(v)
            | Value::Gauge32(v)
            | Value::UInteger32(v)
            | Value::TimeTicks(v) => serde_json::Value::from(*v),
            Value::Counter64(v) => serde_json::Value::from(*v),
            Value::OctetString(b) if crate::render::is_text(b) => {
                serde_json::Value::from(String::from_utf8_lossy(b).into_owned())
            }
            Value::OctetString(b) => serde_json::Value::from(
                b.iter()
                    .map(|o| format!("{o:02X}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Value::ObjectIdentifier(o) => serde_json::Value::from(o.to_string()),
            Value::IpAddress(a) => {
                serde_json::Value::from(format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))
            }
            Value::Null => serde_json::Value::Null,
            Value::OpaqueCounter64(v) | Value::OpaqueUInt64(v) => serde_json::Value::from(*v),
            Value::OpaqueInt64(v) => serde_json::Value::from(*v),
            // The shortest decimal that reads back as the same f32 (a load of 0.15 stays
            // 0.15, not 0.15000000596); NaN and infinities have no JSON number: null.
            Value::OpaqueFloat(f) => {
                serde_json::Value::from(f.to_string().parse::<f64>().unwrap_or(f64::from(*f)))
            }
            Value::OpaqueDouble(d) => serde_json::Value::from(*d),
            other => serde_json::Value::from(crate::render::value_text(other)),
        };
        VarBindView {
            oid: vb.oid.to_string(),
            type_: vb.value.type_name(),
            value,
            text: crate::render::value_text(&vb.value),
        }
    }
}

/// GETs `oids` on the target now (split on tooBig).
pub async fn poll(
    client: &SnmpClient,
    target: &Target,
    oids: &[Oid],
) -> Result<Vec<VarBindView>, SnmpError> {
    let vbs = client.get(target, oids).await?;
    Ok(vbs.iter().map(VarBindView::from).collect())
}
