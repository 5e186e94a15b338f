//! [`Target`]: where and how to ask, plus conversion from the model's credential records.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use wardflux_model::inventory::{Secret, SnmpCredential, SnmpSecrets};

use crate::error::SnmpError;

/// SNMP protocol version (the model's enum; `Version` is this crate's historic name).
pub use wardflux_model::snmp::SnmpVersion as Version;
/// USM security level, authentication and privacy protocols: the model's enums.
pub use wardflux_model::snmp::{AuthProtocol, PrivProtocol, SecurityLevel};

/// The engine's name for an auth protocol.
pub(crate) fn auth_to_lib(p: AuthProtocol) -> async_snmp::AuthProtocol {
    use async_snmp::AuthProtocol as A;
    match p {
        AuthProtocol::Md5 => A::Md5,
        AuthProtocol::Sha1 => A::Sha1,
        AuthProtocol::Sha224 => A::Sha224,
        AuthProtocol::Sha256 => A::Sha256,
        AuthProtocol::Sha384 => A::Sha384,
        AuthProtocol::Sha512 => A::Sha512,
    }
}

/// The engine's name for a privacy protocol (net-snmp's AES-192/256 = Blumenthal, Cisco's
/// = Reeder).
pub(crate) fn priv_to_lib(p: PrivProtocol) -> async_snmp::PrivProtocol {
    use async_snmp::PrivProtocol as P;
    match p {
        PrivProtocol::Des => P::Des,
        PrivProtocol::Aes128 => P::Aes128,
        PrivProtocol::Aes192 => P::Aes192Blumenthal,
        PrivProtocol::Aes256 => P::Aes256Blumenthal,
        PrivProtocol::Aes192Cisco => P::Aes192Reeder,
        PrivProtocol::Aes256Cisco => P::Aes256Reeder,
    }
}

/// v3 User-based Security Model parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsmUser {
    pub user: String,
    pub level: SecurityLevel,
    /// Required for authNoPriv and authPriv.
    pub auth: Option<(AuthProtocol, Secret)>,
    /// Required for authPriv.
    pub privacy: Option<(PrivProtocol, Secret)>,
    /// Context name (empty by default).
    pub context: String,
}

/// How to authenticate to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// v1 / v2c community string.
    Community(Secret),
    /// v3 USM user.
    Usm(UsmUser),
}

impl Hash for Credentials {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Credentials::Community(c) => {
                0u8.hash(h);
                c.expose().hash(h);
            }
            Credentials::Usm(u) => {
                1u8.hash(h);
                u.user.hash(h);
                u.level.hash(h);
                u.context.hash(h);
                if let Some((p, s)) = &u.auth {
                    p.hash(h);
                    s.expose().hash(h);
                }
                if let Some((p, s)) = &u.privacy {
                    p.hash(h);
                    s.expose().hash(h);
                }
            }
        }
    }
}

/// One SNMP agent and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub addr: SocketAddr,
    pub version: Version,
    pub credentials: Credentials,
    /// Per-attempt timeout (net-snmp `-t`).
    pub timeout: Duration,
    /// Retransmissions after the first attempt (net-snmp `-r`).
    pub retries: u32,
    /// GETBULK max-repetitions for walks (net-snmp `-Cr`); adapted down on tooBig.
    pub max_repetitions: u32,
}

impl Target {
    /// A v2c target with net-snmp's defaults (1 s timeout, 5 retries, 10 repetitions).
    pub fn v2c(addr: SocketAddr, community: &str) -> Self {
        Target {
            addr,
            version: Version::V2c,
            credentials: Credentials::Community(Secret::new(community)),
            timeout: Duration::from_secs(1),
            retries: 5,
            max_repetitions: 10,
        }
    }

    /// A v1 target with net-snmp's defaults.
    pub fn v1(addr: SocketAddr, community: &str) -> Self {
        Target {
            version: Version::V1,
            ..Target::v2c(addr, community)
        }
    }

    /// A v3 target with net-snmp's defaults.
    pub fn v3(addr: SocketAddr, user: UsmUser) -> Self {
        Target {
            addr,
            version: Version::V3,
            credentials: Credentials::Usm(user),
            timeout: Duration::from_secs(1),
            retries: 5,
            max_repetitions: 10,
        }
    }

    /// Builds a target from the model's credential record and its decrypted secrets.
    /// Protocol names follow `wardflux_model::AUTH_PROTOCOLS` / `PRIV_PROTOCOLS`.
    pub fn from_model(
        addr: SocketAddr,
        cred: &SnmpCredential,
        secrets: &SnmpSecrets,
    ) -> Result<Self, SnmpError> {
        match cred.version {
            Version::V1 | Version::V2c => {
                let community = secrets
                    .community
                    .clone()
                    .ok_or_else(|| SnmpError::Config("community is not set".into()))?;
                let mut t = Target::v2c(addr, "");
                t.credentials = Credentials::Community(community);
                if cred.version == Version::V1 {
                    t.version = Version::V1;
                }
                Ok(t)
            }
            Version::V3 => {
                let user = cred
                    .username
                    .clone()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| SnmpError::Config("v3 username is not set".into()))?;
                let level = match cred.security_level {
                    Some(l) => l,
                    None => match (&secrets.auth_key, &secrets.priv_key) {
                        (Some(_), Some(_)) => SecurityLevel::AuthPriv,
                        (Some(_), None) => SecurityLevel::AuthNoPriv,
                        _ => SecurityLevel::NoAuthNoPriv,
                    },
                };
                let auth = if level == SecurityLevel::NoAuthNoPriv {
                    None
                } else {
                    let p = cred.auth_protocol.unwrap_or(AuthProtocol::Sha1);
                    let key = secrets
                        .auth_key
                        .clone()
                        .ok_or_else(|| SnmpError::Config("auth key is not set".into()))?;
                    Some((p, key))
                };
                let privacy = if level == SecurityLevel::AuthPriv {
                    let p = cred.priv_protocol.unwrap_or(PrivProtocol::Aes128);
                    let key = secrets
                        .priv_key
                        .clone()
                        .ok_or_else(|| SnmpError::Config("privacy key is not set".into()))?;
                    Some((p, key))
                } else {
                    None
                };
                Ok(Target::v3(
                    addr,
                    UsmUser {
                        user,
                        level,
                        auth,
                        privacy,
                        context: cred.context.clone().unwrap_or_default(),
                    },
                ))
            }
        }
    }
}
