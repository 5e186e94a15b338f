//! [`SnmpError`]: every failure as a typed variant with a stable snake_case [`SnmpError::kind`].

use std::net::SocketAddr;

use crate::types::Oid;

/// An SNMP operation failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnmpError {
    /// No (valid) response within timeout × (retries + 1). Wrong v1/v2c communities end
    /// here too: agents drop such requests silently.
    #[error("timeout: no response from {target} after {retries} retries")]
    Timeout { target: SocketAddr, retries: u32 },
    /// v3: the agent reported a wrong digest (wrong auth password or protocol), or a
    /// response failed our HMAC check.
    #[error("authentication failure (incorrect password, community or key) at {target}")]
    AuthFailure { target: SocketAddr },
    /// v3: usmStatsUnknownUserNames.
    #[error("unknown user name at {target}")]
    UnknownUserName { target: SocketAddr },
    /// v3: usmStatsUnknownEngineIDs after discovery.
    #[error("unknown engine ID at {target}")]
    UnknownEngineId { target: SocketAddr },
    /// v3: usmStatsNotInTimeWindows even after one re-synchronisation.
    #[error("not in time window at {target}")]
    NotInTimeWindow { target: SocketAddr },
    /// v3: usmStatsDecryptionErrors (wrong privacy password or protocol).
    #[error("decryption error at {target}")]
    DecryptionError { target: SocketAddr },
    /// v3: usmStatsUnsupportedSecLevels.
    #[error("unsupported security level at {target}")]
    UnsupportedSecurityLevel { target: SocketAddr },
    /// The response would not fit even with one OID per request.
    #[error("response too big from {target}")]
    TooBig { target: SocketAddr },
    /// The agent answered with a non-zero error-status.
    #[error("error in packet from {target}: {name} (status {status}, index {index})")]
    ErrorStatus {
        target: SocketAddr,
        status: u32,
        name: &'static str,
        index: u32,
        oid: Option<Box<Oid>>,
    },
    /// A walk saw an OID that did not increase.
    #[error("OID not increasing from {target}: {previous} >= {next}")]
    NotIncreasing {
        target: SocketAddr,
        previous: Box<Oid>,
        next: Box<Oid>,
    },
    /// A response carried an Opaque announcing one of net-snmp's special types (float,
    /// double, 64-bit integers) that is not well formed. net-snmp drops such a response (its
    /// tools then time out); the engine says why instead.
    #[error("malformed opaque value from {target} at {oid}: {source}")]
    MalformedOpaque {
        target: SocketAddr,
        oid: Box<Oid>,
        #[source]
        source: crate::opaque::OpaqueError,
    },
    /// A walk without the increasing-OID check (net-snmp `-Cc`) asked for the same OID a
    /// second time: the agent loops.
    #[error("OID loop from {target}: {oid} was already requested in this walk")]
    WalkLoop { target: SocketAddr, oid: Box<Oid> },
    /// Socket failure.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// An undecodable or malformed message.
    #[error("decode error: {0}")]
    Decode(String),
    /// Invalid target or credential configuration.
    #[error("configuration error: {0}")]
    Config(String),
    /// An OID that could not be parsed.
    #[error("invalid OID: {0}")]
    InvalidOid(String),
    /// Any other protocol-level failure.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl SnmpError {
    /// Stable snake_case reason, used in API responses and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            SnmpError::Timeout { .. } => "timeout",
            SnmpError::AuthFailure { .. } => "auth_failure",
            SnmpError::UnknownUserName { .. } => "unknown_user",
            SnmpError::UnknownEngineId { .. } => "unknown_engine_id",
            SnmpError::NotInTimeWindow { .. } => "not_in_time_window",
            SnmpError::DecryptionError { .. } => "decryption_error",
            SnmpError::UnsupportedSecurityLevel { .. } => "unsupported_security_level",
            SnmpError::TooBig { .. } => "too_big",
            SnmpError::ErrorStatus { .. } => "error_status",
            SnmpError::NotIncreasing { .. } => "oid_not_increasing",
            SnmpError::MalformedOpaque { .. } => "malformed_opaque",
            SnmpError::WalkLoop { .. } => "oid_loop",
            SnmpError::Io(_) => "io",
            SnmpError::Decode(_) => "decode",
            SnmpError::Config(_) => "config",
            SnmpError::InvalidOid(_) => "invalid_oid",
            SnmpError::Protocol(_) => "protocol",
        }
    }

    pub(crate) fn from_lib(e: &async_snmp::Error, fallback: SocketAddr) -> SnmpError {
        use async_snmp::Error as E;
        use async_snmp::v3::ReportStatus as R;
        match e.exchange_source() {
            E::Timeout {
                target, retries, ..
            } => SnmpError::Timeout {
                target: *target,
                retries: *retries,
            },
            E::Network { source, .. } => {
                SnmpError::Io(std::io::Error::new(source.kind(), source.to_string()))
            }
            E::Auth { target } => SnmpError::AuthFailure { target: *target },
            E::Report { target, status, .. } => {
                let target = *target;
                match status.as_ref() {
                    R::WrongDigest { .. } => SnmpError::AuthFailure { target },
                    R::UnknownUserName { .. } => SnmpError::UnknownUserName { target },
                    R::UnknownEngineId { .. } => SnmpError::UnknownEngineId { target },
                    R::NotInTimeWindow { .. } => SnmpError::NotInTimeWindow { target },
                    R::DecryptionError { .. } => SnmpError::DecryptionError { target },
                    R::UnsupportedSecurityLevel { .. } => {
                        SnmpError::UnsupportedSecurityLevel { target }
                    }
                    other => SnmpError::Protocol(format!("report from {target}: {other}")),
                }
            }
            E::Snmp {
                target,
                status,
                index,
                oid,
                ..
            } => {
                let code = status.as_i32().max(0) as u32;
                if code == 1 {
                    return SnmpError::TooBig { target: *target };
                }
                SnmpError::ErrorStatus {
                    target: *target,
                    status: code,
                    name: error_status_text(code),
                    index: *index,
                    oid: oid.as_deref().map(|o| Box::new(Oid(o.clone()))),
                }
            }
            E::Closed { target } => SnmpError::Io(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                format!("transport closed while waiting for {target}"),
            )),
            E::Decode(d) => SnmpError::Decode(d.to_string()),
            E::MalformedResponse { target } => {
                SnmpError::Decode(format!("malformed response from {target}"))
            }
            E::Config(c) => SnmpError::Config(c.to_string()),
            E::InvalidOid(o) => SnmpError::InvalidOid(o.to_string()),
            E::Privacy(p) => SnmpError::Protocol(format!("privacy: {p}")),
            E::ConstructionTimeout { .. } => SnmpError::Timeout {
                target: fallback,
                retries: 0,
            },
            other => SnmpError::Protocol(other.to_string()),
        }
    }
}

/// net-snmp's `snmp_errstring` text for an SNMP error-status.
pub fn error_status_text(status: u32) -> &'static str {
    match status {
        0 => "(noError) No Error",
        1 => "(tooBig) Response message would have been too large.",
        2 => "(noSuchName) There is no such variable name in this MIB.",
        3 => "(badValue) The value given has the wrong type or length.",
        4 => "(readOnly) The two parties used do not have access to use the specified SNMP PDU.",
        5 => "(genError) A general failure occured",
        6 => "noAccess",
        7 => "wrongType (The set datatype does not match the data type the agent expects)",
        8 => "wrongLength (The set value has an illegal length from what the agent expects)",
        9 => "wrongEncoding",
        10 => "wrongValue (The set value is illegal or unsupported in some way)",
        11 => {
            "noCreation (That table does not support row creation or that object can not ever be created)"
        }
        12 => "inconsistentValue (The requested SET value could never be set)",
        13 => "resourceUnavailable (This is likely a out-of-memory failure within the agent)",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError (access denied to that object)",
        17 => "notWritable (That object does not support modification)",
        18 => "inconsistentName (That object can not currently be created)",
        _ => "Unknown Error",
    }
}
