//! The one migration set, run unchanged on SQLite and PostgreSQL 15. Schema is written with
//! sea-query builders (never raw SQL) so each backend gets its own DDL; every statement uses
//! `IF NOT EXISTS` and sea-orm-migration records applied steps in `seaql_migrations`, so
//! running `migrate` again is a no-op. Migrations never read the entity structs: a later
//! change to an entity must come with a new migration here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, json, json_null, pk_uuid, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Initial),
            Box::new(crate::alerts::M0002Alerts),
            Box::new(crate::templates::M0003Templates),
            Box::new(M0004LimitsAndScopes),
            Box::new(crate::discovery::M0005Discovery),
            Box::new(crate::zabbix::M0006ExternalIds),
        ]
    }
}

/// `devices.snmp_limits`: what the SNMP poller learned about the device's agent
/// (max-repetitions that work, GETBULK, 64-bit counters), kept so a restart does not learn
/// it again (opaque JSON to the store); `alert_rules.device_ids`: a rule's device scope (the
/// rules made from template triggers), applied by the engine instead of a `device_id=~`
/// regex of every device in the expression.
struct M0004LimitsAndScopes;

impl MigrationName for M0004LimitsAndScopes {
    fn name(&self) -> &str {
        "m0004_limits_and_scopes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004LimitsAndScopes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("devices")
                .add_column_if_not_exists(json_null("snmp_limits"))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("alert_rules")
                .add_column_if_not_exists(json_null("device_ids"))
                .take(),
        )
        .await
    }
}

struct M0001Initial;

impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

/// A table to create (or, from [`NewTable::alter`], columns to add to one) with its foreign
/// keys and indexes, made in one go by [`NewTable::create`]. Every statement is
/// `IF NOT EXISTS`, so running a migration again changes nothing.
pub(crate) struct NewTable {
    name: &'static str,
    table: TableCreateStatement,
    /// `Some`: the table exists; these are the columns to add to it.
    added: Option<Vec<ColumnDef>>,
    indexes: Vec<IndexCreateStatement>,
}

impl NewTable {
    pub fn new(name: &'static str) -> Self {
        NewTable {
            name,
            table: Table::create().table(name).if_not_exists().take(),
            added: None,
            indexes: Vec::new(),
        }
    }

    /// Table `name` exists: `col` adds columns to it (each with its own ALTER TABLE, as
    /// SQLite takes one column per statement), `index` and `unique` add indexes.
    pub fn alter(name: &'static str) -> Self {
        NewTable {
            added: Some(Vec::new()),
            ..Self::new(name)
        }
    }

    pub fn col(mut self, c: ColumnDef) -> Self {
        match &mut self.added {
            Some(added) => added.push(c),
            None => {
                self.table.col(c);
            }
        }
        self
    }

    /// `created_at` and `updated_at`.
    pub fn timestamps(self) -> Self {
        self.col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
    }

    pub fn primary_key(mut self, cols: &[&'static str]) -> Self {
        let mut pk = Index::create();
        for c in cols {
            pk.col(*c);
        }
        self.table.primary_key(&mut pk);
        self
    }

    /// Column `col` refers to `to.id` (foreign key `fk_<table>_<col>`); `on_delete` says what
    /// deleting the row it refers to does.
    pub fn refs(
        mut self,
        col: &'static str,
        to: &'static str,
        on_delete: ForeignKeyAction,
    ) -> Self {
        self.table.foreign_key(
            ForeignKey::create()
                .name(format!("fk_{}_{col}", self.name))
                .from(self.name, col)
                .to(to, "id")
                .on_delete(on_delete),
        );
        self
    }

    pub fn index(mut self, name: &str, cols: &[&'static str]) -> Self {
        self.indexes.push(index(name, self.name, cols, false));
        self
    }

    pub fn unique(mut self, name: &str, cols: &[&'static str]) -> Self {
        self.indexes.push(index(name, self.name, cols, true));
        self
    }

    pub async fn create(self, m: &SchemaManager<'_>) -> Result<(), DbErr> {
        match self.added {
            None => m.create_table(self.table).await?,
            Some(added) => {
                for mut c in added {
                    let add = Table::alter()
                        .table(self.name)
                        .add_column_if_not_exists(&mut c)
                        .take();
                    m.alter_table(add).await?;
                }
            }
        }
        for i in self.indexes {
            m.create_index(i).await?;
        }
        Ok(())
    }
}

fn index(
    name: &str,
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(*c);
    }
    if unique {
        i.unique();
    }
    i.take()
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    fn use_transaction(&self) -> Option<bool> {
        // DDL is transactional on both backends: a failed migration leaves nothing behind.
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        // --- accounts -------------------------------------------------------------------
        NewTable::new("users")
            .col(pk_uuid("id"))
            .col(string("username"))
            .col(string("password_hash"))
            .col(string("role"))
            .col(boolean("disabled"))
            .timestamps()
            .unique("ux_users_username", &["username"])
            .create(m)
            .await?;

        NewTable::new("api_tokens")
            .col(pk_uuid("id"))
            .col(uuid("user_id"))
            .col(string("name"))
            .col(string("kind"))
            .col(string("token_hash"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("expires_at"))
            .col(timestamp_with_time_zone_null("last_used_at"))
            .refs("user_id", "users", Cascade)
            .unique("ux_api_tokens_hash", &["token_hash"])
            .index("ix_api_tokens_user", &["user_id"])
            .create(m)
            .await?;

        NewTable::new("audit_log")
            .col(pk_uuid("id"))
            .col(timestamp_with_time_zone("at"))
            .col(string("actor"))
            .col(uuid_null("actor_id"))
            .col(string("action"))
            .col(string("entity"))
            .col(string_null("entity_id"))
            .col(json_null("before"))
            .col(json_null("after"))
            .index("ix_audit_log_at", &["at"])
            .create(m)
            .await?;

        // --- inventory ------------------------------------------------------------------
        NewTable::new("devices")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(string("ip"))
            .col(string_null("hostname"))
            .col(string_null("vendor"))
            .col(string_null("device_type"))
            .col(string_null("model"))
            .col(string_null("location"))
            .col(string_null("region"))
            .col(string_null("branch"))
            .col(text("tags"))
            .col(boolean("enabled"))
            .col(uuid_null("parent_id"))
            .col(string("source"))
            .col(integer("icmp_interval_s"))
            .timestamps()
            .refs("parent_id", "devices", SetNull)
            .unique("ux_devices_source_ip", &["source", "ip"])
            .index("ix_devices_name", &["name"])
            .create(m)
            .await?;

        NewTable::new("device_groups")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(text_null("description"))
            .timestamps()
            .unique("ux_device_groups_name", &["name"])
            .create(m)
            .await?;

        NewTable::new("device_group_members")
            .col(uuid("group_id"))
            .col(uuid("device_id"))
            .primary_key(&["group_id", "device_id"])
            .refs("group_id", "device_groups", Cascade)
            .refs("device_id", "devices", Cascade)
            .index("ix_dgm_device", &["device_id"])
            .create(m)
            .await?;

        NewTable::new("device_status_history")
            .col(pk_uuid("id"))
            .col(uuid("device_id"))
            .col(string("from_state"))
            .col(string("to_state"))
            .col(timestamp_with_time_zone("at"))
            .col(text_null("reason"))
            .refs("device_id", "devices", Cascade)
            .index("ix_dsh_device_at", &["device_id", "at"])
            .create(m)
            .await?;

        // --- monitoring (seed plan) -----------------------------------------------------
        NewTable::new("monitoring_profiles")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(string("mode"))
            .col(boolean("is_active"))
            .timestamps()
            .unique("ux_monitoring_profiles_name", &["name"])
            .create(m)
            .await?;

        NewTable::new("snmp_credentials")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(uuid_null("device_id"))
            .col(string("version"))
            .col(text_null("community_encrypted"))
            .col(string_null("username"))
            .col(string_null("security_level"))
            .col(string_null("auth_protocol"))
            .col(text_null("auth_key_encrypted"))
            .col(string_null("priv_protocol"))
            .col(text_null("priv_key_encrypted"))
            .col(string_null("context"))
            .timestamps()
            .refs("device_id", "devices", Cascade)
            .index("ix_snmp_credentials_device", &["device_id"])
            .create(m)
            .await?;

        NewTable::new("monitoring_templates")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(text_null("description"))
            .col(json("device_types"))
            .col(json("items"))
            .col(json("triggers"))
            .timestamps()
            .create(m)
            .await?;

        NewTable::new("monitoring_items")
            .col(pk_uuid("id"))
            .col(uuid("device_id"))
            .col(uuid_null("template_id"))
            .col(string("name"))
            .col(string("oid"))
            .col(integer("interval_seconds"))
            .col(string("value_type"))
            .col(string_null("units"))
            .col(boolean("enabled"))
            .timestamps()
            .refs("device_id", "devices", Cascade)
            .refs("template_id", "monitoring_templates", SetNull)
            .index("ix_monitoring_items_device", &["device_id"])
            .create(m)
            .await?;

        NewTable::new("alert_rules")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(text("expression"))
            .col(string("severity"))
            .col(boolean("enabled"))
            .col(json("notification_channels"))
            .timestamps()
            .create(m)
            .await?;

        NewTable::new("alert_history")
            .col(pk_uuid("id"))
            .col(uuid_null("device_id"))
            .col(uuid_null("rule_id"))
            .col(string("severity"))
            .col(text("message"))
            .col(timestamp_with_time_zone("triggered_at"))
            .col(boolean("acknowledged"))
            .col(uuid_null("acknowledged_by"))
            .col(timestamp_with_time_zone_null("acknowledged_at"))
            .col(timestamp_with_time_zone_null("resolved_at"))
            .col(timestamp_with_time_zone("created_at"))
            .refs("device_id", "devices", SetNull)
            .refs("rule_id", "alert_rules", SetNull)
            .refs("acknowledged_by", "users", SetNull)
            .index("ix_alert_history_triggered", &["triggered_at"])
            .create(m)
            .await?;

        NewTable::new("discovery_rules")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(string("network_range"))
            .col(boolean("enabled"))
            .col(string_null("schedule"))
            .col(timestamp_with_time_zone_null("last_run"))
            .timestamps()
            .create(m)
            .await?;

        NewTable::new("discovery_results")
            .col(pk_uuid("id"))
            .col(uuid("rule_id"))
            .col(string("ip_address"))
            .col(string_null("hostname"))
            .col(string_null("device_type"))
            .col(boolean("snmp_reachable"))
            .col(text_null("sys_descr"))
            .col(timestamp_with_time_zone("discovered_at"))
            .col(boolean("added_to_monitoring"))
            .refs("rule_id", "discovery_rules", Cascade)
            .create(m)
            .await?;

        NewTable::new("notification_channels")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(string("kind"))
            .col(json("config"))
            .col(text_null("secret_config_encrypted"))
            .col(boolean("enabled"))
            .timestamps()
            .unique("ux_notification_channels_name", &["name"])
            .create(m)
            .await?;
        Ok(())
    }
}
