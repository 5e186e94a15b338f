//! Migration m0002 (alert engine) and the entities of its tables. `alert_rules` and
//! `notification_channels` exist since m0001; m0002 adds the rule columns the engine needs and
//! the tables for instances, the outbox, the delivery log and maintenance windows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, double_null, integer, integer_null, json, json_null, pk_uuid, string,
    string_null, string_uniq, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::migration::NewTable;

pub struct M0002Alerts;

impl MigrationName for M0002Alerts {
    fn name(&self) -> &str {
        "m0002_alerts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Alerts {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        NewTable::alter("alert_rules")
            .col(text_null("description"))
            .col(json_null("labels"))
            .col(text_null("message"))
            .col(json_null("escalation"))
            .col(string_null("builtin"))
            .unique("ux_alert_rules_name", &["name"])
            .unique("ux_alert_rules_builtin", &["builtin"])
            .create(m)
            .await?;
        NewTable::new("alert_instances")
            .col(pk_uuid("id"))
            .col(uuid("rule_id"))
            .col(json("labels"))
            .col(text("fingerprint"))
            .col(uuid_null("device_id"))
            .col(string_null("device"))
            .col(string("state"))
            .col(double_null("value"))
            .col(text("message"))
            .col(timestamp_with_time_zone("started_at"))
            .col(timestamp_with_time_zone_null("firing_at"))
            .col(timestamp_with_time_zone_null("resolved_at"))
            .col(boolean("acknowledged"))
            .col(string_null("acknowledged_by"))
            .col(timestamp_with_time_zone_null("acknowledged_at"))
            .col(text_null("comment"))
            .col(string_null("suppressed_by"))
            .col(timestamp_with_time_zone_null("notified_at"))
            .col(timestamp_with_time_zone_null("last_notified_at"))
            .col(integer("escalation_step"))
            .col(boolean("escalated"))
            .col(big_integer("version"))
            .col(timestamp_with_time_zone("updated_at"))
            .refs("rule_id", "alert_rules", Cascade)
            .refs("device_id", "devices", SetNull)
            .index("ix_alert_instances_state", &["state"])
            .index("ix_alert_instances_rule", &["rule_id", "fingerprint"])
            .index("ix_alert_instances_started", &["started_at"])
            .index("ix_alert_instances_device", &["device_id"])
            .create(m)
            .await?;
        NewTable::new("notification_outbox")
            .col(pk_uuid("id"))
            .col(uuid("channel_id"))
            .col(uuid_null("rule_id"))
            .col(string("kind"))
            .col(json("payload"))
            .col(string("group_key"))
            .col(uuid_null("batch_id"))
            .col(string_uniq("idempotency_key"))
            .col(string("status"))
            .col(integer("attempts"))
            .col(timestamp_with_time_zone("next_attempt_at"))
            .col(text_null("last_error"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("delivered_at"))
            .refs("channel_id", "notification_channels", Cascade)
            .index("ix_notification_outbox_due", &["status", "next_attempt_at"])
            .create(m)
            .await?;

        NewTable::new("notification_alerts")
            .col(uuid("outbox_id"))
            .col(uuid("alert_id"))
            .primary_key(&["outbox_id", "alert_id"])
            .refs("outbox_id", "notification_outbox", Cascade)
            .refs("alert_id", "alert_instances", Cascade)
            .index("ix_notification_alerts_alert", &["alert_id"])
            .create(m)
            .await?;

        NewTable::new("notification_deliveries")
            .col(pk_uuid("id"))
            .col(uuid("outbox_id"))
            .col(timestamp_with_time_zone("at"))
            .col(integer("attempt"))
            .col(boolean("ok"))
            .col(boolean("retryable"))
            .col(text_null("error"))
            .col(integer("duration_ms"))
            .refs("outbox_id", "notification_outbox", Cascade)
            .index("ix_notification_deliveries_outbox", &["outbox_id"])
            .create(m)
            .await?;

        NewTable::new("maintenance_windows")
            .col(pk_uuid("id"))
            .col(string("name"))
            .col(json("device_ids"))
            .col(json("group_ids"))
            .col(timestamp_with_time_zone_null("starts_at"))
            .col(timestamp_with_time_zone_null("ends_at"))
            .col(string_null("cron"))
            .col(integer_null("duration_minutes"))
            .col(string("timezone"))
            .col(text_null("comment"))
            .timestamps()
            .create(m)
            .await?;
        Ok(())
    }
}

pub mod alert_rule {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "alert_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub expression: String,
        pub severity: String,
        pub enabled: bool,
        pub notification_channels: Json,
        pub description: Option<String>,
        pub labels: Option<Json>,
        pub message: Option<String>,
        pub escalation: Option<Json>,
        pub builtin: Option<String>,
        /// Scope (JSON list of device ids), added by m0004.
        pub device_ids: Option<Json>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    crate::entity::empty_relation!();
}

pub mod alert_instance {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "alert_instances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub rule_id: Uuid,
        pub labels: Json,
        /// The labels as canonical JSON text (sorted keys): the instance identity within a rule.
        pub fingerprint: String,
        pub device_id: Option<Uuid>,
        pub device: Option<String>,
        pub state: String,
        pub value: Option<f64>,
        pub message: String,
        pub started_at: DateTimeUtc,
        pub firing_at: Option<DateTimeUtc>,
        pub resolved_at: Option<DateTimeUtc>,
        pub acknowledged: bool,
        pub acknowledged_by: Option<String>,
        pub acknowledged_at: Option<DateTimeUtc>,
        pub comment: Option<String>,
        pub suppressed_by: Option<String>,
        pub notified_at: Option<DateTimeUtc>,
        pub last_notified_at: Option<DateTimeUtc>,
        pub escalation_step: i32,
        pub escalated: bool,
        pub version: i64,
        pub updated_at: DateTimeUtc,
    }
    crate::entity::empty_relation!();
}

pub mod outbox {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub channel_id: Uuid,
        pub rule_id: Option<Uuid>,
        pub kind: String,
        pub payload: Json,
        pub group_key: String,
        pub batch_id: Option<Uuid>,
        pub idempotency_key: String,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub delivered_at: Option<DateTimeUtc>,
    }
    crate::entity::empty_relation!();
}

pub mod notification_alert {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_alerts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub outbox_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub alert_id: Uuid,
    }
    crate::entity::empty_relation!();
}

pub mod delivery {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub outbox_id: Uuid,
        pub at: DateTimeUtc,
        pub attempt: i32,
        pub ok: bool,
        pub retryable: bool,
        pub error: Option<String>,
        pub duration_ms: i32,
    }
    crate::entity::empty_relation!();
}

pub mod maintenance {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "maintenance_windows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub device_ids: Json,
        pub group_ids: Json,
        pub starts_at: Option<DateTimeUtc>,
        pub ends_at: Option<DateTimeUtc>,
        pub cron: Option<String>,
        pub duration_minutes: Option<i32>,
        pub timezone: String,
        pub comment: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    crate::entity::empty_relation!();
}
