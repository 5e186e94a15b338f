//! Server lifecycle: open the stores, bootstrap the first admin, serve until a signal.

use std::sync::OnceLock;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use wardflux_api::AppState;
use wardflux_model::inventory::{Actor, Role, Secret};
use wardflux_store::{Cipher, Store};

use crate::datadir::DataDirLock;

use crate::config::Config;

pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let mut filter = EnvFilter::try_from_env("WARDFLUX_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=warn"));
    // async-snmp logs every failed request at ERROR (`#[instrument(err)]`), a timeout the
    // user asked for in a test as much as a broken agent. WARD FLUX reports SNMP failures
    // itself (API answers, item states), so its client's events stay out unless
    // WARDFLUX_LOG names async_snmp.
    if !std::env::var("WARDFLUX_LOG").is_ok_and(|v| v.contains("async_snmp"))
        && let Ok(d) = "async_snmp::client=off".parse()
    {
        filter = filter.add_directive(d);
    }
    // Colour only for a person at a terminal (and not when NO_COLOR is set): escape codes
    // in journald, files and pipes are noise.
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// The encryption key: from the configuration, else the data dir's key file (created once).
pub fn load_cipher(cfg: &Config) -> anyhow::Result<Cipher> {
    if let Some(k) = &cfg.encryption_key {
        return Cipher::from_key(k).context("encryption_key");
    }
    crate::datadir::create_private_dir(&cfg.data_dir)?;
    let next = cfg.data_dir.join("encryption.key.next");
    if next.exists() {
        anyhow::bail!(
            "{} exists: a key rotation was interrupted after the database was re-encrypted; \
             move it over encryption.key (the database now needs it), then start again",
            next.display()
        );
    }
    let (cipher, created) = Cipher::load_or_create(&cfg.data_dir)?;
    if created {
        tracing::warn!(
            path = %cfg.data_dir.join("encryption.key").display(),
            "created a new encryption key file; back it up: stored credentials cannot be read without it"
        );
    }
    Ok(cipher)
}

/// Whether a command may create a new store when there is none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// `serve` and `migrate`: a fresh data directory gets a new database and key file.
    Allowed,
    /// Every other command: no database means the wrong directory, not a new install.
    Refused,
}

/// The data directory's lock and the configuration store, migrated.
///
/// With [`Create::Refused`] a missing SQLite database is an error naming where it was
/// looked for, and nothing is created (the user is probably in the wrong directory).
pub async fn open_store(cfg: &Config, create: Create) -> anyhow::Result<(DataDirLock, Store)> {
    if create == Create::Refused
        && let Some(db) = crate::datadir::sqlite_file(&cfg.database_url)
        && !db.exists()
    {
        anyhow::bail!(
            "no WARD FLUX database at {} (data directory {}): start `wardflux serve` or run \
             `wardflux migrate` there first, or point --data-dir / --database-url / --config \
             at the existing installation",
            db.display(),
            cfg.data_dir.display()
        );
    }
    let lock = crate::datadir::lock(&cfg.data_dir)?;
    let cipher = load_cipher(cfg)?;
    let store = Store::connect(&cfg.database_url, cipher)
        .await
        .with_context(|| {
            format!(
                "connecting to {}",
                crate::config::redact_url(&cfg.database_url)
            )
        })?;
    store.migrate().await.context("migrating the schema")?;
    Ok((lock, store))
}

/// Creates `admin` when there are no users yet. Returns the generated password, if any.
pub async fn bootstrap_admin(
    store: &Store,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let (pw, generated) = match password {
        Some(p) => (p.to_string(), false),
        None => (generate_password(), true),
    };
    store
        .create_user(
            &Actor::system(),
            "admin",
            &Secret::new(pw.clone()),
            Role::Admin,
        )
        .await
        .context("creating the first admin")?;
    Ok(generated.then_some(pw))
}

/// Whether some enabled user has the admin role.
async fn has_admin(store: &Store) -> anyhow::Result<bool> {
    Ok(store
        .list_users()
        .await?
        .iter()
        .any(|u| u.role == Role::Admin && !u.disabled))
}

fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The process-wide metrics recorder (installed once; tests may build several servers).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    // The port first: a start that cannot serve fails before it touches the data directory
    // (and before it creates an admin whose password nobody could use).
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    // Held until the process ends: the metric store's last flush is covered too.
    let (_lock, store) = open_store(&cfg, Create::Allowed).await?;
    if let Some(pw) = bootstrap_admin(&store, cfg.admin_password.as_deref()).await? {
        // Printed once, to the terminal only (never to the log).
        println!("Created user 'admin' with password: {pw}");
        println!("(set WARDFLUX_ADMIN_PASSWORD before the first start to choose it)");
    } else if !has_admin(&store).await? {
        tracing::warn!(
            "no enabled user has the admin role, so nobody can manage users through the API; \
             create one with `wardflux user add NAME --role admin` (with the server stopped)"
        );
    }
    // The recorder first: collectors attach their metric handles when they are created.
    let metrics = metrics_handle();
    let cancel = tokio_util::sync::CancellationToken::new();
    let tsdb = open_tsdb(&cfg, cancel.clone()).await?;
    // Subscribers of samples and state changes are added to these fan-outs. The alert
    // engine taps both: it wraps the metric store's sink (each written batch re-evaluates
    // the rules it touches) and hears device state changes after the history writer.
    let mut running = crate::services::Running::new(cancel.clone());
    let alerts = crate::services::start_alerts(&mut running, store.clone(), tsdb.clone()).await?;
    let sink = wardflux_model::FanoutSink::new().with(std::sync::Arc::new(
        wardflux_alert::driver::AlertSink::new(
            wardflux_tsdb::StoreSink(tsdb.clone()),
            alerts.clone(),
        ),
    ));
    // Open UI pages hear state changes last (they only re-fetch what they show).
    let live = wardflux_web::LiveFeed::new();
    let recorder = wardflux_model::FanoutRecorder::new()
        .with(std::sync::Arc::new(crate::history::HistoryWriter(
            store.clone(),
        )))
        .with(std::sync::Arc::new(alerts.clone()))
        .with(std::sync::Arc::new(live.clone()));
    // Samples imported through the API reach the alert engine too.
    let api_tsdb: std::sync::Arc<dyn wardflux_tsdb::MetricStore> = std::sync::Arc::new(
        wardflux_alert::driver::AlertMetricStore::new(tsdb.clone(), alerts.clone()),
    );
    if let Some(monitor) =
        crate::services::start(&mut running, store.clone(), api_tsdb, sink, recorder)
    {
        // A child confirmed down before its parent: the engine has the parent checked now.
        alerts.set_prober(std::sync::Arc::new(monitor));
    }
    crate::services::follow_inventory_for_alerts(&mut running, store.clone(), alerts);
    let mut state = AppState::new(store);
    state.metrics = Some(metrics);
    state.secure_cookies = cfg.secure_cookies;
    running.services.insert("ui live updates", live);
    state.services = std::sync::Arc::new(std::mem::take(&mut running.services));
    let addr = listener.local_addr()?;
    println!(
        "WARD FLUX listening on http://{addr}/ (web UI; API under /api/v1, health at /healthz)"
    );
    tracing::info!(%addr, data_dir = %cfg.data_dir.display(), "serving");
    // The binary composes the HTTP surface: the API (with the Prometheus-compatible routes),
    // the web UI, then the fallbacks.
    let app =
        wardflux_api::finish(wardflux_api::app(state.clone()).merge(wardflux_web::router(state)));
    wardflux_api::serve(listener, app, shutdown_signal()).await?;
    running.shutdown().await;
    if let Err(e) = tsdb.flush().await {
        tracing::error!(error = %e, "final metric store flush failed");
    }
    // The store's background task does a last block cut: wait for it, or the runtime's
    // shutdown cancels it halfway ("task was cancelled").
    tsdb.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the metric store the configuration names (embedded by default).
pub async fn open_tsdb(
    cfg: &Config,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<std::sync::Arc<dyn wardflux_tsdb::MetricStore>> {
    use crate::config::MetricsBackend;
    use wardflux_tsdb::{EmbeddedConfig, TsdbConfig, VictoriaConfig};
    const DAY: u64 = 86_400;
    let tc = match &cfg.metrics {
        MetricsBackend::Embedded {
            raw_retention_days,
            rollup_retention_days,
        } => {
            let mut c = EmbeddedConfig::new(cfg.data_dir.join("tsdb"));
            c.raw_retention = std::time::Duration::from_secs(raw_retention_days * DAY);
            c.rollup_retention = std::time::Duration::from_secs(rollup_retention_days * DAY);
            TsdbConfig::Embedded(c)
        }
        MetricsBackend::Victoria {
            insert_url,
            select_url,
            spool_max_mb,
        } => {
            let mut c = VictoriaConfig::single(insert_url, cfg.data_dir.join("spool"));
            c.select_url = select_url.clone();
            c.spool_max_bytes = spool_max_mb * 1024 * 1024;
            TsdbConfig::Victoria(c)
        }
    };
    let what = match &tc {
        TsdbConfig::Embedded(c) => format!("embedded metric store in {}", c.dir.display()),
        TsdbConfig::Victoria(c) => format!("VictoriaMetrics at {}", c.insert_url),
    };
    let s = wardflux_tsdb::open(tc, cancel)
        .await
        .with_context(|| format!("opening the {what}"))?;
    tracing::info!("metrics: {what}");
    Ok(s)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested");
}
