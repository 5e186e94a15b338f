//! [`Target`]: where and how to ask, plus conversion from the model's credential records.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use wardflux_model::inventory::{Secret, SnmpCredential, SnmpSecrets, SnmpVersion};

use crate::error::SnmpError;

/// SNMP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    V2c,
    V3,
}

/// USM security level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityLevel {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

impl SecurityLevel {
    /// Parses net-snmp's spelling (`noAuthNoPriv`, `authNoPriv`, `authPriv`; case-insensitive,
    /// also `noauth`, `auth`, `priv` as net-snmp accepts).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "noauthnopriv" | "noauth" | "1" => Some(SecurityLevel::NoAuthNoPriv),
            "authnopriv" | "auth" | "2" => Some(SecurityLevel::AuthNoPriv),
            "authpriv" | "priv" | "3" => Some(SecurityLevel::AuthPriv),
            _ => None,
        }
    }
}

/// Authentication protocol (RFC 3414, RFC 7860).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl AuthProtocol {
    /// Parses the model's / net-snmp's spelling: MD5, SHA, SHA-224 … SHA-512 (case-insensitive,
    /// dash optional, `SHA1`/`SHA-1` accepted).
    pub fn parse(s: &str) -> Option<Self> {
        let t: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        Some(match t.as_str() {
            "MD5" => AuthProtocol::Md5,
            "SHA" | "SHA1" => AuthProtocol::Sha1,
            "SHA224" => AuthProtocol::Sha224,
            "SHA256" => AuthProtocol::Sha256,
            "SHA384" => AuthProtocol::Sha384,
            "SHA512" => AuthProtocol::Sha512,
            _ => return None,
        })
    }
    /// The model's spelling (an entry of `wardflux_model::AUTH_PROTOCOLS`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthProtocol::Md5 => "MD5",
            AuthProtocol::Sha1 => "SHA",
            AuthProtocol::Sha224 => "SHA-224",
            AuthProtocol::Sha256 => "SHA-256",
            AuthProtocol::Sha384 => "SHA-384",
            AuthProtocol::Sha512 => "SHA-512",
        }
    }
    pub(crate) fn to_lib(self) -> async_snmp::AuthProtocol {
        use async_snmp::AuthProtocol as A;
        match self {
            AuthProtocol::Md5 => A::Md5,
            AuthProtocol::Sha1 => A::Sha1,
            AuthProtocol::Sha224 => A::Sha224,
            AuthProtocol::Sha256 => A::Sha256,
            AuthProtocol::Sha384 => A::Sha384,
            AuthProtocol::Sha512 => A::Sha512,
        }
    }
}

/// Privacy protocol. AES-192/256 come in two key-extension variants: net-snmp's
/// (Blumenthal draft, spelled `AES-256`) and Cisco's (Reeder draft, spelled `AES-256-C`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
    Aes192Cisco,
    Aes256Cisco,
}

impl PrivProtocol {
    /// Parses the model's / net-snmp's spelling: DES, AES, AES-128, AES-192, AES-256,
    /// AES-192-C, AES-256-C (case-insensitive, dashes optional).
    pub fn parse(s: &str) -> Option<Self> {
        let t: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        Some(match t.as_str() {
            "DES" => PrivProtocol::Des,
            "AES" | "AES128" => PrivProtocol::Aes128,
            "AES192" => PrivProtocol::Aes192,
            "AES256" => PrivProtocol::Aes256,
            "AES192C" => PrivProtocol::Aes192Cisco,
            "AES256C" => PrivProtocol::Aes256Cisco,
            _ => return None,
        })
    }
    /// The model's spelling (an entry of `wardflux_model::PRIV_PROTOCOLS`).
    pub fn as_str(self) -> &'static str {
        match self {
            PrivProtocol::Des => "DES",
            PrivProtocol::Aes128 => "AES",
            PrivProtocol::Aes192 => "AES-192",
            PrivProtocol::Aes256 => "AES-256",
            PrivProtocol::Aes192Cisco => "AES-192-C",
            PrivProtocol::Aes256Cisco => "AES-256-C",
        }
    }
    pub(crate) fn to_lib(self) -> async_snmp::PrivProtocol {
        use async_snmp::PrivProtocol as P;
        match self {
            PrivProtocol::Des => P::Des,
            PrivProtocol::Aes128 => P::Aes128,
            PrivProtocol::Aes192 => P::Aes192Blumenthal,
            PrivProtocol::Aes256 => P::Aes256Blumenthal,
            PrivProtocol::Aes192Cisco => P::Aes192Reeder,
            PrivProtocol::Aes256Cisco => P::Aes256Reeder,
        }
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
            SnmpVersion::V1 | SnmpVersion::V2c => {
                let community = secrets
                    .community
                    .clone()
                    .ok_or_else(|| SnmpError::Config("community is not set".into()))?;
                let mut t = Target::v2c(addr, "");
                t.credentials = Credentials::Community(community);
                if cred.version == SnmpVersion::V1 {
                    t.version = Version::V1;
                }
                Ok(t)
            }
            SnmpVersion::V3 => {
                let user = cred
                    .username
                    .clone()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| SnmpError::Config("v3 username is not set".into()))?;
                let level = match cred.security_level.as_deref() {
                    Some(l) => SecurityLevel::parse(l)
                        .ok_or_else(|| SnmpError::Config(format!("unknown security level {l}")))?,
                    None => match (&secrets.auth_key, &secrets.priv_key) {
                        (Some(_), Some(_)) => SecurityLevel::AuthPriv,
                        (Some(_), None) => SecurityLevel::AuthNoPriv,
                        _ => SecurityLevel::NoAuthNoPriv,
                    },
                };
                let auth = if level == SecurityLevel::NoAuthNoPriv {
                    None
                } else {
                    let name = cred.auth_protocol.as_deref().unwrap_or("SHA");
                    let p = AuthProtocol::parse(name).ok_or_else(|| {
                        SnmpError::Config(format!("unknown auth protocol {name}"))
                    })?;
                    let key = secrets
                        .auth_key
                        .clone()
                        .ok_or_else(|| SnmpError::Config("auth key is not set".into()))?;
                    Some((p, key))
                };
                let privacy = if level == SecurityLevel::AuthPriv {
                    let name = cred.priv_protocol.as_deref().unwrap_or("AES");
                    let p = PrivProtocol::parse(name).ok_or_else(|| {
                        SnmpError::Config(format!("unknown privacy protocol {name}"))
                    })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use wardflux_model::inventory::{AUTH_PROTOCOLS, PRIV_PROTOCOLS};

    #[test]
    fn every_model_protocol_name_parses_and_round_trips() {
        for name in AUTH_PROTOCOLS {
            let p = AuthProtocol::parse(name).expect(name);
            assert_eq!(p.as_str(), *name);
        }
        for name in PRIV_PROTOCOLS {
            let p = PrivProtocol::parse(name).expect(name);
            assert_eq!(p.as_str(), *name);
        }
        assert_eq!(
            PrivProtocol::parse("aes256c"),
            Some(PrivProtocol::Aes256Cisco)
        );
        assert_eq!(PrivProtocol::parse("AES-256"), Some(PrivProtocol::Aes256));
        assert_eq!(AuthProtocol::parse("sha1"), Some(AuthProtocol::Sha1));
        assert_eq!(AuthProtocol::parse("SHA-3"), None);
    }
}
