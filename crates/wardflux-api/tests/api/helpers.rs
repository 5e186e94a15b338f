use std::net::SocketAddr;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use wardflux_api::AppState;
use wardflux_model::inventory::{Actor, Role, Secret};
use wardflux_store::{Cipher, Store};

pub const ADMIN_PW: &str = "admin-password-1";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub store: Store,
    /// Bearer tokens per role: admin, operator, viewer.
    pub admin: String,
    pub operator: String,
    pub viewer: String,
    pub db_file: Option<std::path::PathBuf>,
    pub _tsdb: std::sync::Arc<dyn wardflux_tsdb::MetricStore>,
    pub icmp: wardflux_collect::icmp::IcmpMonitor,
    _cancel: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// The PostgreSQL database (WARDFLUX_TEST_DATABASE=postgres), dropped with the app.
    _pg_db: Option<wardflux_testkit::pg::TempDatabase>,
}

fn use_postgres() -> bool {
    std::env::var("WARDFLUX_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let cipher = Cipher::load_or_create(dir.path()).unwrap().0;
    let (url, db_file, pg_db) = if use_postgres() {
        let db = wardflux_testkit::pg::TempDatabase::create("wardflux_api");
        (db.url.clone(), None, Some(db))
    } else {
        let f = dir.path().join("wardflux.db");
        (format!("sqlite:{}?mode=rwc", f.display()), Some(f), None)
    };
    let store = Store::connect(&url, cipher).await.unwrap();
    store.migrate().await.unwrap();
    let sys = Actor::system();
    for (name, role) in [
        ("admin", Role::Admin),
        ("oper", Role::Operator),
        ("viewer", Role::Viewer),
    ] {
        store
            .create_user(&sys, name, &Secret::new(ADMIN_PW), role)
            .await
            .unwrap();
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let tsdb = wardflux_tsdb::open(
        wardflux_tsdb::TsdbConfig::Embedded(wardflux_tsdb::EmbeddedConfig::new(
            dir.path().join("tsdb"),
        )),
        cancel.clone(),
    )
    .await
    .unwrap();
    // The real ICMP engine (root or ping_group_range needed: scripts/test.sh runs as root).
    let pinger = wardflux_icmp::Pinger::new(wardflux_icmp::PingerOptions::default()).expect(
        "ICMP sockets are required: run the tests as root or open net.ipv4.ping_group_range",
    );
    let icmp = wardflux_collect::icmp::IcmpMonitor::new(
        pinger.clone(),
        std::sync::Arc::new(wardflux_tsdb::StoreSink(tsdb.clone())),
        std::sync::Arc::new(Recorder(store.clone())),
        wardflux_collect::icmp::IcmpMonitorConfig::default(),
    );
    let mut state = AppState::new(store.clone());
    state.metrics = Some(metrics_handle());
    let mut services = wardflux_api::state::Services::new();
    services.insert("metric store", tsdb.clone());
    services.insert("pinger", pinger);
    services.insert("icmp monitor", icmp.clone());
    let snmp = wardflux_snmp::SnmpClient::new(Default::default());
    services.insert("snmp engine", snmp.clone());
    // The SNMP poller with no devices (the binary feeds it the stored poll plans).
    let poller = wardflux_collect::snmp::SnmpPoller::on(
        &wardflux_collect::Scheduler::new("api-test"),
        snmp,
        std::sync::Arc::new(wardflux_tsdb::StoreSink(tsdb.clone())),
        std::sync::Arc::new(|_| true),
        Default::default(),
    );
    services.insert("snmp poller", poller);
    // Discovery with the real pinger and SNMP engine (scans of loopback ranges).
    let discovery = wardflux_discovery::service::Discovery::new(
        store.clone(),
        wardflux_icmp::Pinger::new(wardflux_icmp::PingerOptions::default()).unwrap(),
        wardflux_snmp::SnmpClient::new(Default::default()),
        161,
        cancel.child_token(),
    );
    services.insert("discovery", discovery);
    // The Zabbix source, idle: its sync is tested against a real Zabbix in the binary's tests.
    services.insert(
        "zabbix source",
        wardflux_zabbix::source::ZabbixSource::new(store.clone()),
    );
    state.services = std::sync::Arc::new(services);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(wardflux_api::serve(
        listener,
        wardflux_api::router(state),
        async {
            let _ = rx.await;
        },
    ));
    let client = Client::builder().cookie_store(false).build().unwrap();
    let mut app = TestApp {
        addr,
        client,
        store,
        admin: String::new(),
        operator: String::new(),
        viewer: String::new(),
        db_file,
        _tsdb: tsdb,
        icmp,
        _cancel: cancel.drop_guard(),
        _dir: dir,
        _shutdown: tx,
        _pg_db: pg_db,
    };
    app.admin = app.login("admin", ADMIN_PW).await;
    app.operator = app.login("oper", ADMIN_PW).await;
    app.viewer = app.login("viewer", ADMIN_PW).await;
    app
}

/// Writes the monitor's state changes to the status-history table (as the server does).
struct Recorder(Store);

#[async_trait::async_trait]
impl wardflux_collect::icmp::StateRecorder for Recorder {
    async fn record(&self, c: wardflux_collect::icmp::StateChange) {
        let (from, to) = c.shown_states();
        self.0
            .record_status_change(c.device_id, from, to, c.since, Some("icmp".into()))
            .await
            .unwrap();
    }
}

/// Polls `cond` until it holds or `within` passes (a deadline, not a sleep-as-sync).
pub async fn eventually<F, Fut>(what: &str, within: std::time::Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static H: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    H.get_or_init(|| {
        let r = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let h = r.handle();
        let _ = metrics::set_global_recorder(r);
        h
    })
    .clone()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn login(&self, user: &str, pw: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// Sends a request as the holder of `token` (empty = anonymous) with an optional JSON body.
    pub async fn req(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut b = self.client.request(method, self.url(path));
        if !token.is_empty() {
            b = b.bearer_auth(token);
        }
        if let Some(v) = body {
            b = b.json(&v);
        }
        b.send().await.unwrap()
    }

    /// `method path` as the admin, with `body` as JSON: the status and the JSON answer (`Null`
    /// when there is none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let r = self.req(method, path, &self.admin, body).await;
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// `GET /api/v1/auth/me` as the holder of `token`: the status only.
    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.req(Method::GET, "/api/v1/auth/me", token, None)
            .await
            .status()
    }

    /// `GET /api/v1/auth/me` as the holder of `token`: the JSON answer.
    pub async fn me(&self, token: &str) -> Value {
        self.req(Method::GET, "/api/v1/auth/me", token, None)
            .await
            .json()
            .await
            .unwrap()
    }

    /// The id of the existing user `username`, read from the store.
    pub async fn user_id(&self, username: &str) -> uuid::Uuid {
        self.store
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no user {username}"))
            .id
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.req(Method::DELETE, path, &self.admin, None)
            .await
            .status()
    }

    pub async fn create_device(&self, name: &str, ip: &str) -> Value {
        let (s, v) = self
            .post("/api/v1/devices", json!({"name": name, "ip": ip}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }
}

/// Asserts an error answer: status, JSON `{error, message, field?}`, and the field if given.
pub fn assert_error(status: StatusCode, body: &Value, want: StatusCode, field: Option<&str>) {
    assert_eq!(status, want, "body: {body}");
    assert!(body["error"].is_string(), "error kind missing: {body}");
    assert!(body["message"].is_string(), "message missing: {body}");
    if let Some(f) = field {
        assert_eq!(body["field"], f, "wrong field in {body}");
    }
}
