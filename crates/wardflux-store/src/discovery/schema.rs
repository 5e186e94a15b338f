//! Migration m0005 (network discovery) and the entities of its tables.
//!
//! - `discovery_rules` (seed, m0001) gets the columns of a rule: ranges and exclusions
//!   (JSON arrays), the credential candidates (one Fernet token of the JSON array of the
//!   candidates with their secrets, plus their public views in clear), rate, concurrency,
//!   action, `allow_large`; names become unique. The seed `network_range` stays filled (the
//!   ranges joined by commas) for readers of the seed schema.
//! - `discovery_runs` (new): one row per scan, with its counters and the candidates it was
//!   given (encrypted), so a result can keep the credential that worked.
//! - `discovery_results` (seed) is recreated: the seed table's `rule_id` is `NOT NULL` with
//!   `ON DELETE CASCADE`, and results must outlive their rule (`SET NULL`), which SQLite
//!   cannot alter in place. No version of WARD FLUX wrote the seed table, so it is dropped
//!   only while it still has the seed shape (no `identity` column) and created anew: one
//!   row per device identity (unique), seed column names kept where they mean the same.
//! - `settings` (new): small named values of the store (the classifier overrides).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, double, integer, json, json_null, pk_uuid, string,
    string_null, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    uuid_null,
};

use crate::migration::NewTable;

pub struct M0005Discovery;

impl MigrationName for M0005Discovery {
    fn name(&self) -> &str {
        "m0005_discovery"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005Discovery {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::SetNull;
        NewTable::alter("discovery_rules")
            .col(json_null("ranges"))
            .col(json_null("exclusions"))
            .col(json_null("credentials"))
            .col(text_null("credentials_encrypted"))
            .col(integer("rate_limit").default(2000).take())
            .col(integer("concurrency").default(256).take())
            .col(string("action").default("record").take())
            .col(boolean("allow_large").default(false).take())
            .unique("ux_discovery_rules_name", &["name"])
            .create(m)
            .await?;

        NewTable::new("discovery_runs")
            .col(pk_uuid("id"))
            .col(uuid_null("rule_id"))
            .col(string("state"))
            .col(big_integer("done"))
            .col(big_integer("total"))
            .col(big_integer("alive"))
            .col(big_integer("snmp"))
            .col(big_integer("found"))
            .col(big_integer("found_new"))
            .col(big_integer("added"))
            .col(text_null("error"))
            .col(text_null("candidates_encrypted"))
            .col(timestamp_with_time_zone("started_at"))
            .col(timestamp_with_time_zone_null("finished_at"))
            .col(big_integer_null("duration_ms"))
            .refs("rule_id", "discovery_rules", SetNull)
            .index("ix_discovery_runs_rule", &["rule_id", "started_at"])
            .index("ix_discovery_runs_started", &["started_at"])
            .index("ix_discovery_runs_state", &["state"])
            .create(m)
            .await?;

        if m.has_table("discovery_results").await?
            && !m.has_column("discovery_results", "identity").await?
        {
            m.drop_table(Table::drop().table("discovery_results").take())
                .await?;
        }
        NewTable::new("discovery_results")
            .col(pk_uuid("id"))
            .col(uuid_null("rule_id"))
            .col(uuid("job_id"))
            .col(string("identity"))
            .col(string_null("ip_address"))
            .col(string("ip_sort"))
            .col(json("addresses"))
            .col(boolean("alive"))
            .col(boolean("snmp_reachable"))
            .col(text_null("hostname"))
            .col(text_null("sys_descr"))
            .col(string_null("sys_object_id"))
            .col(big_integer_null("sys_uptime_ticks"))
            .col(text_null("sys_location"))
            .col(text_null("sys_contact"))
            .col(string_null("engine_id"))
            .col(string_null("serial"))
            .col(json("mac_addresses"))
            .col(string_null("credential"))
            .col(text_null("credential_encrypted"))
            .col(string_null("vendor"))
            .col(string_null("os"))
            .col(string_null("device_type"))
            .col(string_null("classifier_rule"))
            .col(double("confidence"))
            .col(uuid_null("device_id"))
            .col(timestamp_with_time_zone("discovered_at"))
            .col(timestamp_with_time_zone("last_seen"))
            .refs("rule_id", "discovery_rules", SetNull)
            .refs("device_id", "devices", SetNull)
            .unique("ux_discovery_results_identity", &["identity"])
            .index("ix_discovery_results_ip", &["ip_sort"])
            .index("ix_discovery_results_rule", &["rule_id"])
            .index("ix_discovery_results_job", &["job_id"])
            .index("ix_discovery_results_device", &["device_id"])
            .create(m)
            .await?;

        NewTable::new("settings")
            .col(string("name"))
            .col(text_null("value"))
            .col(timestamp_with_time_zone("updated_at"))
            .primary_key(&["name"])
            .create(m)
            .await?;
        Ok(())
    }
}

pub mod rule {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "discovery_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        /// Seed column: the ranges joined by commas.
        pub network_range: String,
        pub enabled: bool,
        pub schedule: Option<String>,
        pub last_run: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub ranges: Option<Json>,
        pub exclusions: Option<Json>,
        /// The candidates' public views (`CandidateView`), in order.
        pub credentials: Option<Json>,
        /// Fernet token of the JSON array of the candidates with their secrets.
        pub credentials_encrypted: Option<String>,
        pub rate_limit: i32,
        pub concurrency: i32,
        pub action: String,
        pub allow_large: bool,
    }
    crate::entity::empty_relation!();
}

pub mod run {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "discovery_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub rule_id: Option<Uuid>,
        pub state: String,
        pub done: i64,
        pub total: i64,
        pub alive: i64,
        pub snmp: i64,
        pub found: i64,
        pub found_new: i64,
        pub added: i64,
        pub error: Option<String>,
        /// Fernet token of the JSON array of the candidates the run was given.
        pub candidates_encrypted: Option<String>,
        pub started_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        pub duration_ms: Option<i64>,
    }
    crate::entity::empty_relation!();
}

pub mod result {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "discovery_results")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub rule_id: Option<Uuid>,
        pub job_id: Uuid,
        pub identity: String,
        pub ip_address: Option<String>,
        /// 32 hex digits of the address as IPv6 (IPv4 mapped), `zz` without one: orders
        /// addresses numerically on both databases.
        pub ip_sort: String,
        pub addresses: Json,
        pub alive: bool,
        pub snmp_reachable: bool,
        /// sysName.
        pub hostname: Option<String>,
        pub sys_descr: Option<String>,
        pub sys_object_id: Option<String>,
        pub sys_uptime_ticks: Option<i64>,
        pub sys_location: Option<String>,
        pub sys_contact: Option<String>,
        pub engine_id: Option<String>,
        pub serial: Option<String>,
        pub mac_addresses: Json,
        /// Name of the candidate that worked.
        pub credential: Option<String>,
        /// Fernet token of that candidate's JSON (with its secrets).
        pub credential_encrypted: Option<String>,
        pub vendor: Option<String>,
        pub os: Option<String>,
        pub device_type: Option<String>,
        pub classifier_rule: Option<String>,
        pub confidence: f64,
        pub device_id: Option<Uuid>,
        /// First seen.
        pub discovered_at: DateTimeUtc,
        pub last_seen: DateTimeUtc,
    }
    crate::entity::empty_relation!();
}

pub mod setting {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: Option<String>,
        pub updated_at: DateTimeUtc,
    }
    crate::entity::empty_relation!();
}
