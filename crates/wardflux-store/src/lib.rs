//! WARD FLUX configuration store: users, API tokens, devices, groups, SNMP credentials,
//! monitoring profile, audit log and device status history, on SQLite (embedded default)
//! or PostgreSQL, through SeaORM with one migration set.
//!
//! Invariants:
//! - every mutating method takes an [`Actor`] and writes its `audit_log` row in the same
//!   transaction as the change (before/after JSON of the public records, which carry no
//!   secrets);
//! - secrets (SNMP community and v3 keys, notification channel secrets) are stored only as
//!   Fernet tokens ([`Cipher`]); passwords only as argon2id hashes; API tokens only as
//!   SHA-256 hashes;
//! - ids are UUIDs, timestamps UTC truncated to microseconds (what PostgreSQL keeps), so a
//!   record reads back equal on both backends.

pub mod alerts;
mod audit_log;
pub mod config;
mod crypto;
mod device_list;
mod devices;
mod discovery;
pub mod entity;
mod keys;
mod migration;
mod profile;
mod snmp;
mod status;
mod templates;
mod users;
mod zabbix;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DbErr,
};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;

pub use crypto::{Cipher, KEY_FILE};
pub use devices::DEFAULT_SNMP_PORT;
pub use discovery::RecordOutcome;
pub use wardflux_model::inventory::{
    Actor, ApiToken, AuditEntry, Device, DeviceGroup, DeviceGroupInput, DeviceInput, DeviceQuery,
    FieldError, ImportReport, MonitoringProfile, Page, Role, RowError, Secret, SnmpCredential,
    SnmpCredentialInput, SnmpSecrets, StatusChange, User,
};
pub use wardflux_template::records::{
    DevicePlan, MonitoringItem, MonitoringTemplate, TemplateAssignment,
};
pub use zabbix::ZabbixConnection;

/// Errors of the store. The API maps them: NotFound 404, Conflict 409, Invalid 422,
/// Crypto and Db 500 (their text is for logs, not for clients).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("encryption: {0}")]
    Crypto(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// A stored value this version cannot read (e.g. an unknown enum text).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A batch refused as a whole, with every row at fault (the API answers 409 with the
    /// list): [`Store::add_discovered_devices`], where `row` is the index in `result_ids`.
    #[error("{}", rows_message(.0))]
    Rows(Vec<RowError>),
}

fn rows_message(rows: &[RowError]) -> String {
    let each: Vec<String> = rows
        .iter()
        .map(|r| format!("{}: {}", r.field, r.message))
        .collect();
    format!("{} refused: {}", rows.len(), each.join("; "))
}

impl StoreError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        StoreError::Invalid(FieldError::new(field, message))
    }
    pub(crate) fn conflict(field: &str, message: impl Into<String>) -> Self {
        StoreError::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Maps a unique-constraint violation to `Conflict{field}` (a race the pre-checks missed),
/// anything else to `Db`.
pub(crate) fn map_unique(e: DbErr, field: &str, message: &str) -> StoreError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StoreError::conflict(field, message),
        _ => StoreError::from(e),
    }
}

/// The configuration store. Cheap to clone: clones share the connection pool and the cipher.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Shared by every clone so that [`Store::rotate_key`] switches all of them at once.
    /// A std lock: it is only held to clone the inner `Arc`, never across an `.await`.
    cipher: Arc<RwLock<Arc<Cipher>>>,
    backend: &'static str,
    /// Inventory change events, published after each commit. A broadcast channel: every
    /// subscriber (monitors, UI streams) gets every event; one that lags gets `Lagged`
    /// and should reload everything.
    events: tokio::sync::broadcast::Sender<wardflux_model::InventoryEvent>,
    /// The devices as last read, for lists (see `device_list`); shared by every clone.
    device_list: Arc<device_list::DeviceList>,
    /// Bumped by every published event (shared by the clones): half of a [`ChangeStamp`].
    generation: Arc<AtomicU64>,
}

/// Whether the configuration changed between two reads: see [`Store::change_stamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeStamp {
    /// Inventory events published by this process.
    generation: u64,
    /// SQLite's `PRAGMA data_version` of the pool's one connection: it changes when
    /// another connection (another process: `wardflux config import`, `zabbix import`)
    /// commits, and not for this connection's own writes.
    data_version: i64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Now, in UTC, truncated to microseconds.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Store {
    /// Opens a pool. `url` is `sqlite:/path/file.db?mode=rwc` (or `sqlite::memory:`) or
    /// `postgres://user@host/db`. SQLite gets WAL, foreign keys, a 5 s busy timeout and
    /// `synchronous=FULL` (a committed row survives kill -9 and power loss), and one pooled
    /// connection: SQLite has one writer anyway, and one connection rules out
    /// `SQLITE_BUSY` on lock upgrades inside transactions.
    pub async fn connect(url: &str, cipher: Cipher) -> Result<Store, StoreError> {
        let mut opts = ConnectOptions::new(url.to_string());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        let backend = if url.starts_with("sqlite:") {
            opts.max_connections(1).map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .synchronous(SqliteSynchronous::Full)
            });
            "sqlite"
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            opts.max_connections(10);
            "postgres"
        } else {
            return Err(StoreError::invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        };
        let db = Database::connect(opts).await?;
        Ok(Store {
            db,
            cipher: Arc::new(RwLock::new(Arc::new(cipher))),
            backend,
            events: tokio::sync::broadcast::channel(1024).0,
            device_list: Arc::default(),
            generation: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Inventory changes committed through this store (any clone), from now on: devices
    /// added, changed or removed, imports, groups, SNMP credentials, the monitoring mode.
    /// Changes made by another process on the same database are not seen: poll as well.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<wardflux_model::InventoryEvent> {
        self.events.subscribe()
    }

    /// Publishes an event; called after the transaction committed.
    pub(crate) fn publish(&self, e: wardflux_model::InventoryEvent) {
        self.generation.fetch_add(1, Ordering::Release);
        // No subscriber is fine (CLI commands, tests).
        let _ = self.events.send(e);
    }

    /// A stamp of the configuration (devices, credentials, templates and assignments, the
    /// monitoring mode): two equal stamps mean nothing was committed in between, by this
    /// process (every such write publishes an [`InventoryEvent`]) or by another one. `None`
    /// when that cannot be told (PostgreSQL: another process' commits leave no trace that
    /// is cheap to read): reload. Read it before reading what it stamps, so a change
    /// committed during the read shows in the next stamp.
    ///
    /// The periodic reloads of the monitors compare stamps instead of rebuilding every
    /// device's target and plan every 30 s.
    pub async fn change_stamp(&self) -> Result<Option<ChangeStamp>, StoreError> {
        if self.backend != "sqlite" {
            return Ok(None);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA data_version",
            ))
            .await?;
        let data_version = match row {
            Some(r) => r.try_get_by_index::<i64>(0)?,
            None => return Ok(None),
        };
        Ok(Some(ChangeStamp {
            generation,
            data_version,
        }))
    }

    /// Applies pending migrations (idempotent), makes sure the default monitoring profile
    /// exists and loads the shipped monitoring templates (new or changed ones).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::Migrator::up(&self.db, None).await?;
        self.monitoring_profile().await?;
        self.ensure_builtin_templates().await?;
        Ok(())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The underlying connection, for crates that add their own tables later.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub(crate) fn cipher(&self) -> Arc<Cipher> {
        // A poisoned lock only means a panic while swapping an Arc: the value is intact.
        self.cipher
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_cipher(&self, c: Cipher) {
        *self
            .cipher
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(c);
    }
}

/// The audit row of one change: `action` (such as `user.update`) done to a row of `entity`,
/// with the public records before and after it (`None` where there is none).
pub(crate) struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl<'a> Change<'a> {
    /// Row `id` came to be as `after`.
    pub fn created(
        action: &'a str,
        entity: &'a str,
        id: Uuid,
        after: &impl serde::Serialize,
    ) -> Self {
        Self::updated(action, entity, id, &(), after)
    }

    /// Row `id` went from `before` to `after` (`&()` for a side with no record).
    pub fn updated(
        action: &'a str,
        entity: &'a str,
        id: Uuid,
        before: &impl serde::Serialize,
        after: &impl serde::Serialize,
    ) -> Self {
        Change {
            action,
            entity,
            entity_id: Some(id.to_string()),
            before: json(before),
            after: json(after),
        }
    }

    /// Row `id`, last seen as `before`, is gone.
    pub fn deleted(
        action: &'a str,
        entity: &'a str,
        id: Uuid,
        before: &impl serde::Serialize,
    ) -> Self {
        Self::updated(action, entity, id, before, &())
    }

    /// Writes the row on `conn` (the caller's transaction).
    pub async fn write<C: ConnectionTrait>(
        self,
        conn: &C,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let Change {
            action,
            entity,
            entity_id,
            before,
            after,
        } = self;
        entity::audit_log::ActiveModel {
            id: Set(Uuid::new_v4()),
            at: Set(now()),
            actor: Set(actor.name.clone()),
            actor_id: Set(actor.user_id),
            action: Set(action.to_string()),
            entity: Set(entity.to_string()),
            entity_id: Set(entity_id),
            before: Set(before),
            after: Set(after),
        }
        .insert(conn)
        .await?;
        Ok(())
    }

    /// Writes the row on `txn`, commits the change and hands back `value`.
    pub async fn commit<T>(
        self,
        txn: sea_orm::DatabaseTransaction,
        actor: &Actor,
        value: T,
    ) -> Result<T, StoreError> {
        self.write(&txn, actor).await?;
        txn.commit().await?;
        Ok(value)
    }
}

/// Conversions that cannot fail (`From` records) meet `?` on store results.
impl From<std::convert::Infallible> for StoreError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// SQL binds offsets as signed 64-bit: a larger one is the caller's mistake, not a crash.
pub(crate) fn check_offset(offset: u64) -> Result<(), StoreError> {
    if offset > i64::MAX as u64 {
        return Err(StoreError::invalid(
            "offset",
            "must be at most 9223372036854775807",
        ));
    }
    Ok(())
}

/// The public records of the rows `sel` selects, in its order.
pub(crate) async fn records<E, R>(
    conn: &DatabaseConnection,
    sel: sea_orm::Select<E>,
) -> Result<Vec<R>, StoreError>
where
    E: sea_orm::EntityTrait,
    R: TryFrom<E::Model>,
    StoreError: From<R::Error>,
{
    let rows = sel.all(conn).await?;
    rows.into_iter()
        .map(|m| R::try_from(m).map_err(StoreError::from))
        .collect()
}

/// Rows `offset..offset + limit` of those `sel` selects, in its order, and how many it
/// selects in all.
pub(crate) async fn paged<E>(
    conn: &DatabaseConnection,
    sel: sea_orm::Select<E>,
    limit: u64,
    offset: u64,
) -> Result<Page<E::Model>, StoreError>
where
    E: sea_orm::EntityTrait,
    E::Model: Sync,
{
    use sea_orm::{PaginatorTrait, QuerySelect};
    let total = sel.clone().count(conn).await?;
    let items = sel.limit(limit).offset(offset).all(conn).await?;
    Ok(Page {
        items,
        total,
        limit,
        offset,
    })
}

/// Row `id` of `E`, or `NotFound` naming `entity`.
pub(crate) async fn find<E, C>(
    conn: &C,
    id: Uuid,
    entity: &'static str,
) -> Result<E::Model, StoreError>
where
    E: sea_orm::EntityTrait,
    E::PrimaryKey: sea_orm::PrimaryKeyTrait<ValueType = Uuid>,
    C: ConnectionTrait,
{
    E::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound { entity })
}

impl Store {
    /// Deletes row `id` of `E` and writes its audit row (`before` = the public record that
    /// `record` makes of the row) in one transaction.
    pub(crate) async fn delete_audited<E, R>(
        &self,
        actor: &Actor,
        id: Uuid,
        (entity, audit_entity, action): (&'static str, &str, &str),
        record: impl AsyncFnOnce(&sea_orm::DatabaseTransaction, E::Model) -> Result<R, StoreError>,
    ) -> Result<(), StoreError>
    where
        E: sea_orm::EntityTrait,
        E::PrimaryKey: sea_orm::PrimaryKeyTrait<ValueType = Uuid>,
        R: serde::Serialize,
    {
        use sea_orm::TransactionTrait;
        let txn = self.db.begin().await?;
        let m = find::<E, _>(&txn, id, entity).await?;
        let before = record(&txn, m).await?;
        E::delete_by_id(id).exec(&txn).await?;
        Change::deleted(action, audit_entity, id, &before)
            .commit(txn, actor, ())
            .await
    }
}

/// JSON of a public record for the audit log (records never carry secrets); `()` is none.
fn json<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok().filter(|v| !v.is_null())
}
