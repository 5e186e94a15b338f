//! Real peers for the alert tests: a SQLite store in a temp dir, Debian's aiosmtpd (plain and
//! STARTTLS, certificate made by openssl), and an axum HTTP receiver on port 0 that records
//! every request and answers from a script.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;
use wardflux_store::{Cipher, Store};
use wardflux_tsdb::MetricStore;

pub const AIOSMTPD: &str = "/usr/bin/aiosmtpd";

pub async fn sqlite_store(dir: &Path) -> (Store, String) {
    let url = format!("sqlite:{}?mode=rwc", dir.join("t.db").display());
    let key = Cipher::generate_key();
    let s = Store::connect(&url, Cipher::from_key(&key).unwrap())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    (s, key)
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
    /// What the receiver answered (`None`: the request was held and never answered).
    pub answered: Option<u16>,
}

/// What to do with the next request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Hold the request until the test ends (the sender gives up or is killed).
    Hang,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// Poked on every request.
    pub arrived: Arc<Notify>,
}

impl Receiver {
    /// Answers 200 unless `script` says otherwise for the next requests.
    pub async fn start(script: &[Answer]) -> Receiver {
        let mut r = Receiver {
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            ..Default::default()
        };
        let state = r.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let st = state.clone();
                async move {
                    let answer = st.script.lock().unwrap().pop_front();
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let mut rec = Received {
                        path: uri.path().to_string(),
                        idempotency_key: h("idempotency-key"),
                        authorization: h("authorization"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        answered: None,
                    };
                    let code = match answer {
                        Some(Answer::Hang) => {
                            st.log.lock().unwrap().push(rec);
                            st.arrived.notify_waiters();
                            std::future::pending::<()>().await;
                            unreachable!()
                        }
                        Some(Answer::Status(c)) => c,
                        None => 200,
                    };
                    rec.answered = Some(code);
                    st.log.lock().unwrap().push(rec);
                    st.arrived.notify_waiters();
                    StatusCode::from_u16(code).unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        r.url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (bounded by a 10 s deadline).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let notified = self.arrived.notified();
                if self.log.lock().unwrap().len() >= n {
                    return;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} requests did not arrive: {:?}", self.received()));
        self.received()
    }
}

use wardflux_testkit::free_port;

/// A running aiosmtpd (Debugging handler: prints every message to stdout).
pub struct Smtp {
    pub port: u16,
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    line_added: Arc<Notify>,
    /// PEM of the server certificate, with STARTTLS.
    pub cert_pem: Option<String>,
    _dir: tempfile::TempDir,
}

impl Smtp {
    pub async fn start(starttls: bool) -> Smtp {
        assert!(
            Path::new(AIOSMTPD).exists(),
            "{AIOSMTPD} is required (Debian package python3-aiosmtpd): run scripts/test.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = tokio::process::Command::new(AIOSMTPD);
        cmd.args(["-n", "-l", &format!("127.0.0.1:{port}")]);
        let mut cert_pem = None;
        if starttls {
            let (c, k) = make_cert(dir.path());
            cert_pem = Some(std::fs::read_to_string(&c).unwrap());
            cmd.arg("--tlscert").arg(&c).arg("--tlskey").arg(&k);
        }
        // Unbuffered, so each message reaches the pipe as soon as it is printed.
        cmd.env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start aiosmtpd");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let line_added = Arc::new(Notify::new());
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let (l2, n2) = (lines.clone(), line_added.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                l2.lock().unwrap().push(line);
                n2.notify_waiters();
            }
        });
        // Ready when it accepts connections.
        tokio::time::timeout(Duration::from_secs(10), async {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("aiosmtpd did not start listening");
        Smtp {
            port,
            child,
            lines,
            line_added,
            cert_pem,
            _dir: dir,
        }
    }

    /// Waits until the output contains `needle`; returns the whole output.
    pub async fn wait_for(&self, needle: &str) -> String {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let notified = self.line_added.notified();
                let all = self.lines.lock().unwrap().join("\n");
                if all.contains(needle) {
                    return all;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{needle:?} not in {:?}", self.lines.lock().unwrap()))
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A self-signed end-entity certificate for 127.0.0.1 / localhost (rustls rejects CA:TRUE).
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is required")
        .success();
    assert!(ok, "openssl could not make a certificate");
    (c, k)
}

pub struct World {
    pub store: Store,
    pub metrics: Arc<dyn MetricStore>,
    pub rx: Receiver,
    pub _dir: tempfile::TempDir,
}

/// A SQLite store, the embedded metric store and a webhook receiver behind the channel
/// `webhook`, all in one temp dir.
pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = sqlite_store(dir.path()).await;
    let metrics: Arc<dyn MetricStore> = wardflux_tsdb::embedded::EmbeddedStore::open(
        wardflux_tsdb::EmbeddedConfig::new(dir.path().join("tsdb")),
    )
    .await
    .unwrap();
    let rx = Receiver::start(&[]).await;
    store
        .create_channel(
            &wardflux_model::inventory::Actor::system(),
            wardflux_model::alerts::ChannelInput {
                name: "webhook".into(),
                kind: wardflux_model::alerts::ChannelKind::Webhook,
                config: serde_json::json!({"url": format!("{}/hook", rx.url)}),
                enabled: None,
            },
        )
        .await
        .unwrap();
    World {
        store,
        metrics,
        rx,
        _dir: dir,
    }
}

/// The built-in `Device unreachable` rule, edited (as an operator would) to notify `webhook`.
pub async fn unreachable_notifies_webhook(store: &Store) -> wardflux_model::alerts::AlertRule {
    let rule = store
        .list_alert_rules(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.builtin.as_deref() == Some("device_unreachable"))
        .unwrap();
    let input = wardflux_model::alerts::AlertRuleInput {
        notifications: vec!["webhook".into()],
        enabled: Some(true),
        message: rule.message.clone(),
        ..wardflux_model::alerts::AlertRuleInput::new(
            rule.name.clone(),
            rule.expression.clone(),
            rule.severity,
        )
    };
    store
        .update_alert_rule(&wardflux_model::inventory::Actor::system(), rule.id, input)
        .await
        .unwrap()
}

/// An outbox worker over `store` with a 5 s send timeout.
pub fn outbox_worker(
    store: &Store,
    cfg: wardflux_alert::outbox::OutboxConfig,
) -> wardflux_alert::outbox::OutboxWorker {
    wardflux_alert::outbox::OutboxWorker::new(
        store.clone(),
        wardflux_alert::notify::Notifier::new(Duration::from_secs(5)).unwrap(),
        cfg,
    )
}

/// Outbox settings that look for due rows every 50 ms when idle.
pub fn fast_outbox() -> wardflux_alert::outbox::OutboxConfig {
    wardflux_alert::outbox::OutboxConfig {
        idle_poll: Duration::from_millis(50),
        ..Default::default()
    }
}

/// An alert driver over the world's stores that wakes `worker` when it queues a message.
pub async fn driver_for(
    w: &World,
    cfg: wardflux_alert::driver::DriverConfig,
    worker: &wardflux_alert::outbox::OutboxWorker,
) -> (
    wardflux_alert::driver::AlertDriver,
    wardflux_alert::driver::AlertHandle,
) {
    wardflux_alert::driver::AlertDriver::new(
        w.store.clone(),
        w.metrics.clone(),
        cfg,
        worker.waker(),
    )
    .await
    .unwrap()
}
