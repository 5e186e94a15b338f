//! Configuration: defaults, overlaid by a TOML file, overlaid by `WARDFLUX_*` environment
//! variables, overlaid by command-line flags; validated once, with errors naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The TOML file's shape. Unknown keys are errors (a typo must not be silently ignored).
/// `config check` prints one of these, so the key names here are the documented ones.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_cookies: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victoria_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victoria_insert_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victoria_select_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victoria_spool_max_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_raw_retention_days: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_rollup_retention_days: Option<u64>,
}

/// Where time series go.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsBackend {
    /// The embedded store under `<data_dir>/tsdb`.
    Embedded {
        raw_retention_days: u64,
        rollup_retention_days: u64,
    },
    /// VictoriaMetrics: single node (both URLs equal) or cluster.
    Victoria {
        insert_url: String,
        select_url: String,
        spool_max_mb: u64,
    },
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

/// The validated configuration.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub encryption_key: Option<String>,
    pub admin_password: Option<String>,
    pub log_json: bool,
    pub secure_cookies: bool,
    pub metrics: MetricsBackend,
    /// Where the file came from, for `config check`.
    pub source: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "***"),
            )
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field("log_json", &self.log_json)
            .field("secure_cookies", &self.secure_cookies)
            .field("metrics", &self.metrics)
            .finish()
    }
}

/// Hides a password in `postgres://user:pass@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.split_once('@')
        && let Some((user, _)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

#[derive(Debug)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration key `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Reads a variable; an empty value counts as unset.
fn env(name: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    lookup(name).filter(|v| !v.is_empty())
}

impl Config {
    /// Loads from the process environment.
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        Self::load_with(o, &|k| std::env::var(k).ok())
    }

    /// Loads with an injectable environment (for tests).
    pub fn load_with(
        o: &Overrides,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let path = o
            .config
            .clone()
            .or_else(|| env("WARDFLUX_CONFIG", lookup).map(PathBuf::from));
        let file = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| err("config", format!("cannot read {}: {e}", p.display())))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    // toml names the key in its message; surface it as ours.
                    // Unknown keys are named in the message; for a bad value, the key is
                    // the left-hand side of the line the error's span points at.
                    let msg = e.message().to_string();
                    let from_msg = msg
                        .starts_with("unknown field")
                        .then(|| msg.split('`').nth(1).map(str::to_string))
                        .flatten();
                    let from_span = e.span().and_then(|sp| {
                        let line_start = text[..sp.start].rfind('\n').map_or(0, |i| i + 1);
                        let line = &text[line_start..];
                        let (k, _) = line.split_once('=')?;
                        let k = k.trim().trim_matches('"');
                        (!k.is_empty() && !k.contains('\n')).then(|| k.to_string())
                    });
                    let key = from_msg.or(from_span).unwrap_or_else(|| "config".into());
                    err(&key, format!("in {}: {}", p.display(), msg))
                })?
            }
            None => FileConfig::default(),
        };

        let listen_raw = o
            .listen
            .clone()
            .or_else(|| env("WARDFLUX_LISTEN", lookup))
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = resolve_listen(&listen_raw)?;

        let data_dir = o
            .data_dir
            .clone()
            .or_else(|| env("WARDFLUX_DATA_DIR", lookup).map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        if data_dir.as_os_str().is_empty() {
            return Err(err("data_dir", "must not be empty"));
        }

        let database_url = o
            .database_url
            .clone()
            .or_else(|| env("WARDFLUX_DATABASE_URL", lookup))
            .or(file.database_url)
            .unwrap_or_else(|| default_sqlite_url(&data_dir));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "database_url",
                "must start with sqlite: or postgres:// (e.g. sqlite:./data/wardflux.db or postgres://user@host/db)",
            ));
        }

        let encryption_key = env("WARDFLUX_ENCRYPTION_KEY", lookup).or(file.encryption_key);
        if let Some(k) = &encryption_key {
            wardflux_store::Cipher::from_key(k).map_err(|_| {
                err(
                    "encryption_key",
                    "must be a Fernet key: 32 bytes in URL-safe base64 (44 characters)",
                )
            })?;
        }
        let admin_password = env("WARDFLUX_ADMIN_PASSWORD", lookup).or(file.admin_password);
        if admin_password.as_ref().is_some_and(|p| p.len() < 8) {
            return Err(err("admin_password", "must be at least 8 characters"));
        }
        let log_format = env("WARDFLUX_LOG_FORMAT", lookup)
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            _ => return Err(err("log_format", "must be text or json")),
        };
        let secure_cookies = match env("WARDFLUX_SECURE_COOKIES", lookup) {
            Some(v) => {
                parse_bool(&v).ok_or_else(|| err("secure_cookies", "must be true or false"))?
            }
            None => file.secure_cookies.unwrap_or(false),
        };
        let url_var =
            |key: &str, var: &str, file_v: Option<String>| -> Result<Option<String>, ConfigError> {
                match env(var, lookup).or(file_v) {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                        Ok(Some(u.trim_end_matches('/').to_string()))
                    }
                    Some(_) => Err(err(key, "must be an http:// or https:// URL")),
                    None => Ok(None),
                }
            };
        let num_var = |key: &str,
                       var: &str,
                       file_v: Option<u64>,
                       default: u64,
                       max: u64|
         -> Result<u64, ConfigError> {
            let v = match env(var, lookup) {
                Some(s) => s
                    .parse::<u64>()
                    .map_err(|_| err(key, "must be a whole number"))?,
                None => file_v.unwrap_or(default),
            };
            if v == 0 || v > max {
                return Err(err(key, format!("must be between 1 and {max}")));
            }
            Ok(v)
        };
        let single = url_var("victoria_url", "WARDFLUX_VICTORIA_URL", file.victoria_url)?;
        let insert = url_var(
            "victoria_insert_url",
            "WARDFLUX_VICTORIA_INSERT_URL",
            file.victoria_insert_url,
        )?;
        let select = url_var(
            "victoria_select_url",
            "WARDFLUX_VICTORIA_SELECT_URL",
            file.victoria_select_url,
        )?;
        let spool_max_mb = num_var(
            "victoria_spool_max_mb",
            "WARDFLUX_VICTORIA_SPOOL_MAX_MB",
            file.victoria_spool_max_mb,
            1024,
            1 << 20,
        )?;
        let raw_days = num_var(
            "metrics_raw_retention_days",
            "WARDFLUX_METRICS_RAW_RETENTION_DAYS",
            file.metrics_raw_retention_days,
            30,
            36_500,
        )?;
        let rollup_days = num_var(
            "metrics_rollup_retention_days",
            "WARDFLUX_METRICS_ROLLUP_RETENTION_DAYS",
            file.metrics_rollup_retention_days,
            365,
            36_500,
        )?;
        let metrics = match (single, insert, select) {
            (None, None, None) => MetricsBackend::Embedded {
                raw_retention_days: raw_days,
                rollup_retention_days: rollup_days,
            },
            (Some(u), None, None) => MetricsBackend::Victoria {
                insert_url: u.clone(),
                select_url: u,
                spool_max_mb,
            },
            (None, Some(i), Some(s)) => MetricsBackend::Victoria {
                insert_url: i,
                select_url: s,
                spool_max_mb,
            },
            (Some(_), _, _) => {
                return Err(err(
                    "victoria_url",
                    "set either victoria_url (single node) or victoria_insert_url and victoria_select_url (cluster), not both",
                ));
            }
            (None, None, Some(_)) => {
                return Err(err(
                    "victoria_insert_url",
                    "is required with victoria_select_url",
                ));
            }
            (None, Some(_), None) => {
                return Err(err(
                    "victoria_select_url",
                    "is required with victoria_insert_url",
                ));
            }
        };
        Ok(Config {
            metrics,
            listen,
            data_dir,
            database_url,
            encryption_key,
            admin_password,
            log_json,
            secure_cookies,
            source: path,
        })
    }
}

/// `IP:PORT`, or `HOST:PORT` resolved now (the first address the resolver gives, so
/// `localhost:8080` is the loopback address of the machine's preference).
fn resolve_listen(raw: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = raw.parse() {
        return Ok(a);
    }
    let bad = || {
        err(
            "listen",
            format!(
                "{raw:?} is not IP:PORT or HOST:PORT, such as 127.0.0.1:8080 or localhost:8080"
            ),
        )
    };
    let (host, port) = raw.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    raw.to_socket_addrs()
        .map_err(|e| err("listen", format!("cannot resolve {host:?}: {e}")))?
        .next()
        .ok_or_else(|| err("listen", format!("{host:?} has no address")))
}

impl Config {
    /// The configuration as a TOML file with the documented key names, which loads back to
    /// the same configuration. Secrets are not printed: the encryption key and the admin
    /// password become comments, a database password `***`.
    pub fn to_toml(&self) -> String {
        let (mut raw, mut rollup) = (None, None);
        let (mut single, mut insert, mut select, mut spool) = (None, None, None, None);
        match &self.metrics {
            MetricsBackend::Embedded {
                raw_retention_days,
                rollup_retention_days,
            } => {
                raw = Some(*raw_retention_days);
                rollup = Some(*rollup_retention_days);
            }
            MetricsBackend::Victoria {
                insert_url,
                select_url,
                spool_max_mb,
            } => {
                if insert_url == select_url {
                    single = Some(insert_url.clone());
                } else {
                    insert = Some(insert_url.clone());
                    select = Some(select_url.clone());
                }
                spool = Some(*spool_max_mb);
            }
        }
        let file = FileConfig {
            listen: Some(self.listen.to_string()),
            data_dir: Some(self.data_dir.clone()),
            database_url: Some(redact_url(&self.database_url)),
            encryption_key: None,
            admin_password: None,
            log_format: Some(if self.log_json { "json" } else { "text" }.into()),
            secure_cookies: Some(self.secure_cookies),
            victoria_url: single,
            victoria_insert_url: insert,
            victoria_select_url: select,
            victoria_spool_max_mb: spool,
            metrics_raw_retention_days: raw,
            metrics_rollup_retention_days: rollup,
        };
        let mut out = toml::to_string(&file).unwrap_or_else(|e| format!("# cannot print: {e}\n"));
        for (key, set) in [
            ("encryption_key", self.encryption_key.is_some()),
            ("admin_password", self.admin_password.is_some()),
        ] {
            if set {
                out.push_str(&format!("# {key} = \"...\" (set; not printed)\n"));
            }
        }
        out
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite:{}?mode=rwc", data_dir.join("wardflux.db").display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Overrides::default();
        if let Some(text) = file {
            let p = dir.path().join("w.toml");
            std::fs::write(&p, text).unwrap();
            o.config = Some(p);
        }
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with(&o, &move |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults() {
        let c = load(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.database_url, "sqlite:./data/wardflux.db?mode=rwc");
    }

    #[test]
    fn env_overrides_file() {
        let c = load(
            Some("listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\n"),
            &[("WARDFLUX_LISTEN", "127.0.0.1:9100")],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn errors_name_the_key() {
        let e = load(Some("listen = \"nope\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "listen");
        let e = load(Some("lisen = \"127.0.0.1:1\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "lisen", "{e}");
        let e = load(None, &[("WARDFLUX_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.key, "database_url");
        let e = load(None, &[("WARDFLUX_ENCRYPTION_KEY", "short")]).unwrap_err();
        assert_eq!(e.key, "encryption_key");
        let e = load(None, &[("WARDFLUX_LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(e.key, "log_format");
        let e = load(Some("listen = 5\n"), &[]).unwrap_err();
        assert_eq!(e.key, "listen", "{e}");
    }

    #[test]
    fn metrics_backend_embedded_by_default_victoria_single_or_cluster() {
        let c = load(None, &[]).unwrap();
        assert_eq!(
            c.metrics,
            MetricsBackend::Embedded {
                raw_retention_days: 30,
                rollup_retention_days: 365
            }
        );
        let c = load(None, &[("WARDFLUX_VICTORIA_URL", "http://127.0.0.1:8428/")]).unwrap();
        assert_eq!(
            c.metrics,
            MetricsBackend::Victoria {
                insert_url: "http://127.0.0.1:8428".into(),
                select_url: "http://127.0.0.1:8428".into(),
                spool_max_mb: 1024
            }
        );
        let c = load(
            Some("victoria_insert_url = \"http://i:8480/insert/0/prometheus\"\nvictoria_select_url = \"http://s:8481/select/0/prometheus\"\n"),
            &[],
        )
        .unwrap();
        assert!(
            matches!(c.metrics, MetricsBackend::Victoria { ref insert_url, .. } if insert_url.starts_with("http://i:"))
        );
        assert_eq!(
            load(None, &[("WARDFLUX_VICTORIA_INSERT_URL", "http://i")])
                .unwrap_err()
                .key,
            "victoria_select_url"
        );
        assert_eq!(
            load(None, &[("WARDFLUX_VICTORIA_URL", "ftp://x")])
                .unwrap_err()
                .key,
            "victoria_url"
        );
        assert_eq!(
            load(None, &[("WARDFLUX_METRICS_RAW_RETENTION_DAYS", "0")])
                .unwrap_err()
                .key,
            "metrics_raw_retention_days"
        );
    }

    #[test]
    fn listen_accepts_a_host_name() {
        let c = load(None, &[("WARDFLUX_LISTEN", "localhost:8080")]).unwrap();
        assert!(c.listen.ip().is_loopback(), "{}", c.listen);
        assert_eq!(c.listen.port(), 8080);
        let c = load(None, &[("WARDFLUX_LISTEN", "[::1]:9000")]).unwrap();
        assert_eq!(c.listen.to_string(), "[::1]:9000");
        for bad in ["localhost", "localhost:http", ":8080", "localhost:70000"] {
            let e = load(None, &[("WARDFLUX_LISTEN", bad)]).unwrap_err();
            assert_eq!(e.key, "listen", "{bad}: {e}");
        }
    }

    /// `config check` prints TOML with the documented keys that loads back to the same
    /// configuration, without the secrets.
    #[test]
    fn to_toml_loads_back_without_secrets() {
        let key = "dGhpcnR5LXR3by1ieXRlcy1vZi1hLWZlcm5ldC1rZXk=";
        for (file, vars) in [
            (None, vec![]),
            (
                Some(
                    "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\nsecure_cookies = true\nmetrics_raw_retention_days = 7\n",
                ),
                vec![
                    ("WARDFLUX_ADMIN_PASSWORD", "hunter2hunter2"),
                    ("WARDFLUX_ENCRYPTION_KEY", key),
                    (
                        "WARDFLUX_DATABASE_URL",
                        "postgres://u:topsecret@127.0.0.1/db",
                    ),
                ],
            ),
            (
                None,
                vec![("WARDFLUX_VICTORIA_URL", "http://127.0.0.1:8428")],
            ),
            (
                Some(
                    "victoria_insert_url = \"http://127.0.0.1:8480/insert/0/prometheus\"\nvictoria_select_url = \"http://127.0.0.1:8481/select/0/prometheus\"\nvictoria_spool_max_mb = 64\n",
                ),
                vec![],
            ),
        ] {
            let a = load(file, &vars).unwrap();
            let text = a.to_toml();
            assert!(
                !text.contains("hunter2") && !text.contains("topsecret") && !text.contains(key),
                "{text}"
            );
            let parsed: FileConfig =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(
                parsed.listen.is_some() && parsed.data_dir.is_some(),
                "{text}"
            );
            let b = load(Some(&text), &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(a.listen, b.listen, "{text}");
            assert_eq!(a.data_dir, b.data_dir);
            assert_eq!(redact_url(&a.database_url), b.database_url);
            assert_eq!(a.log_json, b.log_json);
            assert_eq!(a.secure_cookies, b.secure_cookies);
            assert_eq!(a.metrics, b.metrics);
            if a.admin_password.is_some() {
                assert!(text.contains("# admin_password"), "{text}");
                assert!(text.contains("# encryption_key"), "{text}");
            }
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = load(
            None,
            &[
                ("WARDFLUX_ADMIN_PASSWORD", "hunter2hunter2"),
                ("WARDFLUX_DATABASE_URL", "postgres://u:topsecret@h/db"),
            ],
        )
        .unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("topsecret"), "{s}");
    }
}
