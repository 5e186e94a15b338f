//! The SNMP vocabulary shared by the store, the API, the engine and the CLI: protocol
//! version, USM security level, authentication and privacy protocols.
//!
//! Each enum has one canonical spelling, used by `Display`, `as_str` and `Serialize` (the
//! model's and net-snmp's: `v2c`, `authPriv`, `SHA-256`, `AES-256-C`), and a lenient parser
//! used by `FromStr` and `Deserialize` alike, so that an API body, a CSV import, a config
//! file and a `-v 2c -l authPriv -a sha256` command line all read the same way. Unknown
//! names are refused with a message that lists the accepted ones.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use utoipa::ToSchema;

/// A name that is not one of an SNMP enum's accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: expected one of {accepted}")]
pub struct UnknownName {
    /// What was being parsed, e.g. `SNMP version`.
    pub what: &'static str,
    /// The text given.
    pub given: String,
    /// The accepted canonical spellings, comma separated.
    pub accepted: String,
}

/// Upper-cases `s` and drops `-`, `_` and spaces: `sha-256`, `SHA256` and `Sha_256` compare
/// equal.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The value of `all` whose name equals `s` up to case, dashes and underscores, reading the
/// squashed `alias.0` as `alias.1`.
fn by_squashed_name<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
    alias: (&str, &str),
) -> Option<T> {
    let t = squash(s);
    let t = if t == alias.0 { alias.1 } else { t.as_str() };
    all.iter().copied().find(|&v| squash(name(v)) == t)
}

/// Defines one vocabulary enum from its variants and canonical spellings: the enum (with
/// `Serialize` and an OpenAPI string-enum schema under those spellings), `ALL`, `as_str`,
/// `Display`, `FromStr` (through the type's own `parse_name`) and a `Deserialize` that
/// accepts whatever `FromStr` does (and integers, through their decimal text). The schema is
/// written out because utoipa's derive does not see a `serde(rename)` made by a macro.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $ty:ident ($what:literal) { $($variant:ident = $name:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $ty {
            $(#[serde(rename = $name)] $variant),+
        }

        impl $ty {
            /// Every value, in the standard's order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($name),+]))
                    .into()
            }
        }

        impl ToSchema for $ty {}

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse_name(s.trim()).ok_or_else(|| UnknownName {
                    what: $what,
                    given: s.to_string(),
                    accepted: [$($name),+].join(", "),
                })
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "{}: one of {}", $what, [$($name),+].join(", "))
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$ty, E> {
                        s.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<$ty, E> {
                        self.visit_str(&n.to_string())
                    }
                    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<$ty, E> {
                        self.visit_str(&n.to_string())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

vocabulary! {
    /// SNMP protocol version. Serialised as `v1`, `v2c`, `v3`; read from those and from
    /// net-snmp's `-v` spellings (`1`, `2c`, `2`, `3`; case-insensitive, also `v2`).
    SnmpVersion ("SNMP version") { V1 = "v1", V2c = "v2c", V3 = "v3" }
}

impl SnmpVersion {
    fn parse_name(s: &str) -> Option<Self> {
        let t = s.to_ascii_lowercase();
        let t = t.strip_prefix('v').unwrap_or(&t);
        Some(match t {
            "1" => SnmpVersion::V1,
            "2c" | "2" => SnmpVersion::V2c,
            "3" => SnmpVersion::V3,
            _ => return None,
        })
    }
}

vocabulary! {
    /// USM security level (RFC 3414). Serialised as `noAuthNoPriv`, `authNoPriv`, `authPriv`;
    /// read case-insensitively from those and from net-snmp's short forms `noauth`, `auth`,
    /// `priv` and `1`, `2`, `3`.
    SecurityLevel ("security level") {
        NoAuthNoPriv = "noAuthNoPriv",
        AuthNoPriv = "authNoPriv",
        AuthPriv = "authPriv",
    }
}

impl SecurityLevel {
    /// Whether this level authenticates messages (authNoPriv, authPriv).
    pub fn has_auth(self) -> bool {
        self != SecurityLevel::NoAuthNoPriv
    }

    /// Whether this level encrypts messages (authPriv).
    pub fn has_priv(self) -> bool {
        self == SecurityLevel::AuthPriv
    }

    fn parse_name(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "noauthnopriv" | "noauth" | "1" => SecurityLevel::NoAuthNoPriv,
            "authnopriv" | "auth" | "2" => SecurityLevel::AuthNoPriv,
            "authpriv" | "priv" | "3" => SecurityLevel::AuthPriv,
            _ => return None,
        })
    }
}

vocabulary! {
    /// USM authentication protocol (RFC 3414, RFC 7860). Serialised as `MD5`, `SHA`,
    /// `SHA-224`, `SHA-256`, `SHA-384`, `SHA-512`; read case-insensitively with or without the
    /// dash, and `SHA1`/`SHA-1` for `SHA`.
    AuthProtocol ("auth protocol") {
        Md5 = "MD5",
        Sha1 = "SHA",
        Sha224 = "SHA-224",
        Sha256 = "SHA-256",
        Sha384 = "SHA-384",
        Sha512 = "SHA-512",
    }
}

impl AuthProtocol {
    fn parse_name(s: &str) -> Option<Self> {
        by_squashed_name(Self::ALL, Self::as_str, s, ("SHA1", "SHA"))
    }
}

vocabulary! {
    /// USM privacy protocol. `AES` is AES-128 (RFC 3826). AES-192/256 exist in two key
    /// extensions: net-snmp's (Blumenthal draft), spelled `AES-192`/`AES-256`, and Cisco's
    /// (Reeder draft), spelled `AES-192-C`/`AES-256-C`. Read case-insensitively with or
    /// without dashes; `AES128`/`AES-128` for `AES`.
    PrivProtocol ("privacy protocol") {
        Des = "DES",
        Aes128 = "AES",
        Aes192 = "AES-192",
        Aes256 = "AES-256",
        Aes192Cisco = "AES-192-C",
        Aes256Cisco = "AES-256-C",
    }
}

impl PrivProtocol {
    fn parse_name(s: &str) -> Option<Self> {
        by_squashed_name(Self::ALL, Self::as_str, s, ("AES128", "AES"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de<T: serde::de::DeserializeOwned>(j: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(j)
    }

    #[test]
    fn versions_read_every_spelling_and_write_one() {
        for (given, want) in [
            ("v1", SnmpVersion::V1),
            ("1", SnmpVersion::V1),
            ("v2c", SnmpVersion::V2c),
            ("2c", SnmpVersion::V2c),
            ("2", SnmpVersion::V2c),
            ("V2C", SnmpVersion::V2c),
            ("v3", SnmpVersion::V3),
            ("3", SnmpVersion::V3),
        ] {
            assert_eq!(given.parse::<SnmpVersion>(), Ok(want), "{given}");
            assert_eq!(de::<SnmpVersion>(&format!("{given:?}")).unwrap(), want);
        }
        assert_eq!(de::<SnmpVersion>("3").unwrap(), SnmpVersion::V3);
        for &v in SnmpVersion::ALL {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
            assert_eq!(v.as_str().parse::<SnmpVersion>(), Ok(v));
        }
        let e = "v4".parse::<SnmpVersion>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown SNMP version \"v4\": expected one of v1, v2c, v3"
        );
        let e = de::<SnmpVersion>("\"2d\"").unwrap_err().to_string();
        assert!(e.contains("expected one of v1, v2c, v3"), "{e}");
    }

    #[test]
    fn security_levels() {
        for (given, want) in [
            ("noAuthNoPriv", SecurityLevel::NoAuthNoPriv),
            ("noauth", SecurityLevel::NoAuthNoPriv),
            ("AUTHNOPRIV", SecurityLevel::AuthNoPriv),
            ("auth", SecurityLevel::AuthNoPriv),
            ("authPriv", SecurityLevel::AuthPriv),
            ("priv", SecurityLevel::AuthPriv),
            ("3", SecurityLevel::AuthPriv),
        ] {
            assert_eq!(given.parse::<SecurityLevel>(), Ok(want), "{given}");
        }
        for &l in SecurityLevel::ALL {
            assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{l}\""));
            assert_eq!(de::<SecurityLevel>(&format!("\"{l}\"")).unwrap(), l);
        }
        assert!(SecurityLevel::AuthPriv.has_priv() && SecurityLevel::AuthPriv.has_auth());
        assert!(!SecurityLevel::NoAuthNoPriv.has_auth());
        let e = "superPriv"
            .parse::<SecurityLevel>()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "unknown security level \"superPriv\": expected one of noAuthNoPriv, authNoPriv, authPriv"
        );
    }

    #[test]
    fn protocols_round_trip_and_accept_variants() {
        for &p in AuthProtocol::ALL {
            assert_eq!(p.as_str().parse::<AuthProtocol>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
            assert_eq!(de::<AuthProtocol>(&format!("\"{p}\"")).unwrap(), p);
        }
        for &p in PrivProtocol::ALL {
            assert_eq!(p.as_str().parse::<PrivProtocol>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
            assert_eq!(de::<PrivProtocol>(&format!("\"{p}\"")).unwrap(), p);
        }
        assert_eq!("sha1".parse(), Ok(AuthProtocol::Sha1));
        assert_eq!("SHA-1".parse(), Ok(AuthProtocol::Sha1));
        assert_eq!("sha256".parse(), Ok(AuthProtocol::Sha256));
        assert_eq!("aes-128".parse(), Ok(PrivProtocol::Aes128));
        assert_eq!("aes256c".parse(), Ok(PrivProtocol::Aes256Cisco));
        assert_eq!("AES-256".parse(), Ok(PrivProtocol::Aes256));
        let e = "SHA-3".parse::<AuthProtocol>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown auth protocol \"SHA-3\": expected one of MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512"
        );
        let e = "ROT13".parse::<PrivProtocol>().unwrap_err().to_string();
        assert!(
            e.contains("DES, AES, AES-192, AES-256, AES-192-C, AES-256-C"),
            "{e}"
        );
    }

    #[test]
    fn openapi_schemas_list_the_canonical_spellings() {
        fn names<T: utoipa::PartialSchema>() -> serde_json::Value {
            serde_json::to_value(T::schema()).unwrap()["enum"].clone()
        }
        assert_eq!(
            names::<SnmpVersion>(),
            serde_json::json!(["v1", "v2c", "v3"])
        );
        assert_eq!(
            names::<SecurityLevel>(),
            serde_json::json!(["noAuthNoPriv", "authNoPriv", "authPriv"])
        );
        assert_eq!(
            names::<PrivProtocol>(),
            serde_json::json!(["DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"])
        );
        assert_eq!(names::<AuthProtocol>()[1], "SHA");
    }

    #[test]
    fn every_name_round_trips() {
        for p in AuthProtocol::ALL {
            assert_eq!(p.as_str().parse::<AuthProtocol>().unwrap(), *p);
        }
        for p in PrivProtocol::ALL {
            assert_eq!(p.as_str().parse::<PrivProtocol>().unwrap(), *p);
        }
        for l in SecurityLevel::ALL {
            assert_eq!(l.as_str().parse::<SecurityLevel>().unwrap(), *l);
        }
    }
}
