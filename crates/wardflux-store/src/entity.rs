//! SeaORM entities: the row shapes of the tables the store reads and writes. The same
//! entity code serves SQLite and PostgreSQL; the schema itself lives in `migration`.
//! Conversions to the model records (`wardflux_model::inventory`) live next to each entity.

/// An entity without relations (the store joins by hand) and with the default behaviour.
macro_rules! empty_relation {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}
pub(crate) use empty_relation;

pub mod user {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub username: String,
        pub password_hash: String,
        pub role: String,
        pub disabled: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    empty_relation!();
}

pub mod api_token {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub name: String,
        pub kind: String,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
    }
    empty_relation!();
}

pub mod device {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "devices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub ip: String,
        pub hostname: Option<String>,
        pub vendor: Option<String>,
        pub device_type: Option<String>,
        pub model: Option<String>,
        pub location: Option<String>,
        pub region: Option<String>,
        pub branch: Option<String>,
        /// `,a,b,` (tags never contain commas), so a tag filter is one `LIKE '%,a,%'`
        /// on both databases.
        pub tags: String,
        pub enabled: bool,
        pub parent_id: Option<Uuid>,
        pub source: String,
        pub icmp_interval_s: i32,
        pub snmp_port: i32,
        /// Learned by the SNMP poller (opaque JSON), see `Store::set_snmp_limits`.
        pub snmp_limits: Option<Json>,
        /// The id of the record in its source (the Zabbix host id of a mirrored device).
        pub external_id: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    empty_relation!();
}

pub mod device_group {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "device_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub description: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    empty_relation!();
}

pub mod device_group_member {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "device_group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub device_id: Uuid,
    }
    empty_relation!();
}

pub mod snmp_credential {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "snmp_credentials")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub device_id: Option<Uuid>,
        pub version: String,
        pub community_encrypted: Option<String>,
        pub username: Option<String>,
        pub security_level: Option<String>,
        pub auth_protocol: Option<String>,
        pub auth_key_encrypted: Option<String>,
        pub priv_protocol: Option<String>,
        pub priv_key_encrypted: Option<String>,
        pub context: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    empty_relation!();
}

pub mod monitoring_profile {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitoring_profiles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub mode: String,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    empty_relation!();
}

pub mod audit_log {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub at: DateTimeUtc,
        pub actor: String,
        pub actor_id: Option<Uuid>,
        pub action: String,
        pub entity: String,
        pub entity_id: Option<String>,
        pub before: Option<Json>,
        pub after: Option<Json>,
    }
    empty_relation!();
}

pub mod notification_channel {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_channels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        /// email | webhook | slack | telegram ...
        pub kind: String,
        /// Non-secret settings.
        pub config: Json,
        /// Fernet token of a JSON object holding the secret settings (passwords, tokens).
        pub secret_config_encrypted: Option<String>,
        pub enabled: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    empty_relation!();
}

pub mod device_status_history {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "device_status_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub device_id: Uuid,
        pub from_state: String,
        pub to_state: String,
        pub at: DateTimeUtc,
        pub reason: Option<String>,
    }
    empty_relation!();
}
