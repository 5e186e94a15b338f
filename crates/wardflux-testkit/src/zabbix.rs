//! The real Zabbix 6.0 the Zabbix tests share: server, frontend API and its PostgreSQL, as
//! `scripts/zabbix-rig.sh start` runs them on loopback (Debian 12's `zabbix-server-pgsql`,
//! `zabbix-frontend-php`, `php8.2-cgi`, `php8.2-pgsql`, `zabbix-agent` for `zabbix_sender`).
//!
//! `scripts/test.sh` starts it once and exports `ZABBIX_API_URL`, `ZABBIX_USER`,
//! `ZABBIX_PASSWORD` and `ZABBIX_TRAPPER`; without them the first test that asks runs the
//! script itself. Tests name what they create with [`unique`] so they can run at once
//! against the one server, and again, without colliding.

use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

const PACKAGES: &str = "zabbix-server-pgsql zabbix-frontend-php zabbix-agent (zabbix_sender) php8.2-cli php8.2-cgi php8.2-pgsql postgresql";

/// The shared Zabbix server.
#[derive(Debug)]
pub struct Zabbix {
    /// `http://127.0.0.1:PORT/api_jsonrpc.php`.
    pub api_url: String,
    pub user: String,
    pub password: String,
    /// The trapper's `host:port` (what `zabbix_sender -z/-p` take).
    pub trapper: String,
    /// Zabbix's own database (`postgresql://...`), for changes the API cannot make.
    pub db_url: String,
    /// The admin session [`Zabbix::rpc`] uses, made on first use.
    session: Mutex<Option<String>>,
}

/// `prefix-<random>`: a name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

impl Zabbix {
    /// The server of this test run: from the environment, else started with
    /// `scripts/zabbix-rig.sh start` (once per test binary). Panics naming the Debian
    /// packages when it cannot be had: tests fail, never skip.
    pub fn shared() -> &'static Zabbix {
        static Z: OnceLock<Zabbix> = OnceLock::new();
        Z.get_or_init(|| {
            let vars = match std::env::var("ZABBIX_API_URL") {
                Ok(_) => std::env::vars().collect::<Vec<_>>(),
                Err(_) => start_rig(),
            };
            let get = |k: &str| {
                vars.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("{k} missing from the Zabbix rig's output"))
            };
            Zabbix {
                api_url: get("ZABBIX_API_URL"),
                user: get("ZABBIX_USER"),
                password: get("ZABBIX_PASSWORD"),
                trapper: get("ZABBIX_TRAPPER"),
                db_url: get("ZABBIX_DB"),
                session: Mutex::new(None),
            }
        })
    }

    /// The frontend's base URL (`http://127.0.0.1:PORT`), where `index.php` is an HTML page.
    pub fn frontend_url(&self) -> String {
        self.api_url
            .trim_end_matches("/api_jsonrpc.php")
            .to_string()
    }

    /// One JSON-RPC request without authentication; the whole answer (`result` or `error`).
    pub async fn raw(&self, method: &str, params: Value, auth: Option<&str>) -> Value {
        let mut body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        if let Some(a) = auth {
            body["auth"] = json!(a);
        }
        // A client per request: tests run on different tokio runtimes, and a pooled
        // connection must not outlive the runtime that made it.
        reqwest::Client::new()
            .post(&self.api_url)
            .header("Content-Type", "application/json-rpc")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("Zabbix API at {}: {e}", self.api_url))
            .json()
            .await
            .expect("a JSON-RPC answer")
    }

    /// `user.login` as `username`; the session token or the error object.
    pub async fn login(&self, username: &str, password: &str) -> Result<String, Value> {
        let a = self
            .raw(
                "user.login",
                json!({"username": username, "password": password}),
                None,
            )
            .await;
        match a.get("result").and_then(Value::as_str) {
            Some(t) => Ok(t.to_string()),
            None => Err(a["error"].clone()),
        }
    }

    /// `method` as the admin (for test setup); its `result`, or the error object.
    pub async fn try_rpc(&self, method: &str, params: Value) -> Result<Value, Value> {
        let cached = self.session.lock().unwrap().clone();
        let token = match cached {
            Some(t) => t,
            None => {
                let t = self
                    .login(&self.user, &self.password)
                    .await
                    .unwrap_or_else(|e| panic!("admin login to Zabbix failed: {e}"));
                *self.session.lock().unwrap() = Some(t.clone());
                t
            }
        };
        let mut a = self.raw(method, params, Some(&token)).await;
        match a.get_mut("result") {
            Some(r) => Ok(r.take()),
            None => Err(a["error"].clone()),
        }
    }

    /// `method` as the admin; panics on an error (test setup).
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let p = params.to_string();
        self.try_rpc(method, params)
            .await
            .unwrap_or_else(|e| panic!("Zabbix {method} {p}: {e}"))
    }

    /// Creates a host group; its id.
    pub async fn create_group(&self, name: &str) -> u64 {
        let r = self.rpc("hostgroup.create", json!({"name": name})).await;
        id(&r["groupids"][0])
    }

    /// Creates a user with the "Super admin role" in the Zabbix administrators group (it
    /// sees every host and may acknowledge); its id.
    pub async fn create_user(&self, username: &str, password: &str) -> u64 {
        let r = self
            .rpc(
                "user.create",
                json!({"username": username, "passwd": password, "roleid": "3",
                       "usrgrps": [{"usrgrpid": "7"}]}),
            )
            .await;
        id(&r["userids"][0])
    }

    /// Runs `zabbix_sender` once; `Ok` when the server's reply says `processed: 1`, else the
    /// reply (a new item is accepted only after the server's configuration cache reloads, so
    /// callers poll [`Zabbix::send_until_processed`]).
    pub async fn sender(&self, host: &str, key: &str, value: &str) -> Result<(), String> {
        let (addr, port) = self.trapper.rsplit_once(':').expect("host:port");
        let out = tokio::process::Command::new("zabbix_sender")
            .args(["-z", addr, "-p", port, "-s", host, "-k", key, "-o", value])
            .output()
            .await
            .unwrap_or_else(|e| panic!("zabbix_sender (Debian package zabbix-agent): {e}"));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains("processed: 1;") {
            Ok(())
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// [`Zabbix::sender`] until the server takes the value (at most 30 s).
    pub async fn send_until_processed(&self, host: &str, key: &str, value: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match self.sender(host, key, value).await {
                Ok(()) => return,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("zabbix_sender {host} {key}={value} never processed: {e}")
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }
}

impl Zabbix {
    /// Runs one SQL statement on Zabbix's database with `psql`; panics when it fails.
    pub fn sql(&self, statement: &str) {
        let out = Command::new("psql")
            .args([
                self.db_url.as_str(),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ])
            .output()
            .unwrap_or_else(|e| panic!("psql (Debian package postgresql-client): {e}"));
        assert!(
            out.status.success(),
            "{statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends timestamped values with `zabbix_sender -T -i`; `Ok` when all were processed.
    pub async fn send_values(
        &self,
        host: &str,
        key: &str,
        values: &[(i64, String)],
    ) -> Result<(), String> {
        let (addr, port) = self.trapper.rsplit_once(':').expect("host:port");
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        let lines: String = values
            .iter()
            .map(|(t, v)| format!("\"{host}\" \"{key}\" {t} \"{v}\"\n"))
            .collect();
        std::io::Write::write_all(&mut file, lines.as_bytes()).expect("write the values");
        let out = tokio::process::Command::new("zabbix_sender")
            .args(["-z", addr, "-p", port, "-T", "-i"])
            .arg(file.path())
            .output()
            .await
            .unwrap_or_else(|e| panic!("zabbix_sender (Debian package zabbix-agent): {e}"));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains(&format!("processed: {};", values.len())) {
            Ok(())
        } else {
            Err(text)
        }
    }
}

/// An id Zabbix sent as a string.
pub fn id(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
        .unwrap_or_else(|| panic!("not an id: {v}"))
}

/// Runs the project's `scripts/zabbix-rig.sh start` and reads the `NAME=value` lines it prints.
fn start_rig() -> Vec<(String, String)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/zabbix-rig.sh");
    let out = Command::new("bash")
        .args([script, "start"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "a real Zabbix 6.0 is required (Debian packages: {PACKAGES}); {script} start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("ZABBIX_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
