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

pub(crate) fn fk(
    from_table: &'static str,
    col: &'static str,
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{col}"))
        .from(from_table, col)
        .to(to, "id")
        .on_delete(on_delete)
        .take()
}

pub(crate) fn table(name: &'static str) -> TableCreateStatement {
    Table::create().table(name).if_not_exists().take()
}

pub(crate) fn index(
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

pub(crate) fn ts(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
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
        m.create_table(
            ts(table("users")
                .col(pk_uuid("id"))
                .col(string("username"))
                .col(string("password_hash"))
                .col(string("role"))
                .col(boolean("disabled")))
            .take(),
        )
        .await?;
        m.create_index(index("ux_users_username", "users", &["username"], true))
            .await?;

        m.create_table(
            table("api_tokens")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(string("name"))
                .col(string("kind"))
                .col(string("token_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .foreign_key(&mut fk("api_tokens", "user_id", "users", Cascade))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_api_tokens_hash",
            "api_tokens",
            &["token_hash"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_api_tokens_user",
            "api_tokens",
            &["user_id"],
            false,
        ))
        .await?;

        m.create_table(
            table("audit_log")
                .col(pk_uuid("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("actor"))
                .col(uuid_null("actor_id"))
                .col(string("action"))
                .col(string("entity"))
                .col(string_null("entity_id"))
                .col(json_null("before"))
                .col(json_null("after"))
                .take(),
        )
        .await?;
        m.create_index(index("ix_audit_log_at", "audit_log", &["at"], false))
            .await?;

        // --- inventory ------------------------------------------------------------------
        m.create_table(
            ts(table("devices")
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
                .foreign_key(&mut fk("devices", "parent_id", "devices", SetNull)))
            .take(),
        )
        .await?;
        m.create_index(index(
            "ux_devices_source_ip",
            "devices",
            &["source", "ip"],
            true,
        ))
        .await?;
        m.create_index(index("ix_devices_name", "devices", &["name"], false))
            .await?;

        m.create_table(
            ts(table("device_groups")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(text_null("description")))
            .take(),
        )
        .await?;
        m.create_index(index(
            "ux_device_groups_name",
            "device_groups",
            &["name"],
            true,
        ))
        .await?;

        m.create_table(
            table("device_group_members")
                .col(uuid("group_id"))
                .col(uuid("device_id"))
                .primary_key(Index::create().col("group_id").col("device_id"))
                .foreign_key(&mut fk(
                    "device_group_members",
                    "group_id",
                    "device_groups",
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "device_group_members",
                    "device_id",
                    "devices",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_dgm_device",
            "device_group_members",
            &["device_id"],
            false,
        ))
        .await?;

        m.create_table(
            table("device_status_history")
                .col(pk_uuid("id"))
                .col(uuid("device_id"))
                .col(string("from_state"))
                .col(string("to_state"))
                .col(timestamp_with_time_zone("at"))
                .col(text_null("reason"))
                .foreign_key(&mut fk(
                    "device_status_history",
                    "device_id",
                    "devices",
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_dsh_device_at",
            "device_status_history",
            &["device_id", "at"],
            false,
        ))
        .await?;

        // --- monitoring (seed plan) -----------------------------------------------------
        m.create_table(
            ts(table("monitoring_profiles")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(string("mode"))
                .col(boolean("is_active")))
            .take(),
        )
        .await?;
        m.create_index(index(
            "ux_monitoring_profiles_name",
            "monitoring_profiles",
            &["name"],
            true,
        ))
        .await?;

        m.create_table(
            ts(table("snmp_credentials")
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
                .foreign_key(&mut fk("snmp_credentials", "device_id", "devices", Cascade)))
            .take(),
        )
        .await?;
        m.create_index(index(
            "ix_snmp_credentials_device",
            "snmp_credentials",
            &["device_id"],
            false,
        ))
        .await?;

        m.create_table(
            ts(table("monitoring_templates")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(text_null("description"))
                .col(json("device_types"))
                .col(json("items"))
                .col(json("triggers")))
            .take(),
        )
        .await?;

        m.create_table(
            ts(table("monitoring_items")
                .col(pk_uuid("id"))
                .col(uuid("device_id"))
                .col(uuid_null("template_id"))
                .col(string("name"))
                .col(string("oid"))
                .col(integer("interval_seconds"))
                .col(string("value_type"))
                .col(string_null("units"))
                .col(boolean("enabled"))
                .foreign_key(&mut fk("monitoring_items", "device_id", "devices", Cascade))
                .foreign_key(&mut fk(
                    "monitoring_items",
                    "template_id",
                    "monitoring_templates",
                    SetNull,
                )))
            .take(),
        )
        .await?;
        m.create_index(index(
            "ix_monitoring_items_device",
            "monitoring_items",
            &["device_id"],
            false,
        ))
        .await?;

        m.create_table(
            ts(table("alert_rules")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(text("expression"))
                .col(string("severity"))
                .col(boolean("enabled"))
                .col(json("notification_channels")))
            .take(),
        )
        .await?;

        m.create_table(
            table("alert_history")
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
                .foreign_key(&mut fk("alert_history", "device_id", "devices", SetNull))
                .foreign_key(&mut fk("alert_history", "rule_id", "alert_rules", SetNull))
                .foreign_key(&mut fk(
                    "alert_history",
                    "acknowledged_by",
                    "users",
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_alert_history_triggered",
            "alert_history",
            &["triggered_at"],
            false,
        ))
        .await?;

        m.create_table(
            ts(table("discovery_rules")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(string("network_range"))
                .col(boolean("enabled"))
                .col(string_null("schedule"))
                .col(timestamp_with_time_zone_null("last_run")))
            .take(),
        )
        .await?;

        m.create_table(
            table("discovery_results")
                .col(pk_uuid("id"))
                .col(uuid("rule_id"))
                .col(string("ip_address"))
                .col(string_null("hostname"))
                .col(string_null("device_type"))
                .col(boolean("snmp_reachable"))
                .col(text_null("sys_descr"))
                .col(timestamp_with_time_zone("discovered_at"))
                .col(boolean("added_to_monitoring"))
                .foreign_key(&mut fk(
                    "discovery_results",
                    "rule_id",
                    "discovery_rules",
                    Cascade,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            ts(table("notification_channels")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(string("kind"))
                .col(json("config"))
                .col(text_null("secret_config_encrypted"))
                .col(boolean("enabled")))
            .take(),
        )
        .await?;
        m.create_index(index(
            "ux_notification_channels_name",
            "notification_channels",
            &["name"],
            true,
        ))
        .await?;
        Ok(())
    }
}
