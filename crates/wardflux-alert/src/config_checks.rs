//! The checks a configuration import needs from this crate (the rule language, channel
//! configs, maintenance schedules), handed to `Store::import_config` so that an imported
//! record is checked exactly as the API checks one it is given.

use serde_json::Value;
use wardflux_model::alerts::{ChannelKind, MaintenanceInput, MaintenanceWindow};
use wardflux_store::config::{ConfigChecks, Problem};

use crate::notify::ChannelConfig;
use crate::suppress::{WindowError, check_window};

/// [`ConfigChecks`] with this crate's parsers.
pub struct AlertChecks;

impl ConfigChecks for AlertChecks {
    fn rule_expression(&self, expression: &str) -> Result<(), String> {
        crate::rule::parse(expression)
            .map(|_| ())
            .map_err(|e| e.message)
    }

    fn channel_config(&self, kind: ChannelKind, config: &Value) -> Result<(), Problem> {
        ChannelConfig::parse(kind, config)
            .map(|_| ())
            .map_err(|fe| Problem {
                // The parser names fields as `config.x` or `x`; the caller adds `config`.
                path: fe
                    .field
                    .strip_prefix("config")
                    .map(|s| s.trim_start_matches('.').to_string())
                    .unwrap_or(fe.field),
                message: fe.message,
            })
    }

    fn maintenance(&self, i: &MaintenanceInput) -> Result<(), Problem> {
        let now = chrono::Utc::now();
        let w = MaintenanceWindow {
            id: uuid::Uuid::nil(),
            name: i.name.clone(),
            device_ids: i.device_ids.clone(),
            group_ids: i.group_ids.clone(),
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            cron: i.cron.clone(),
            duration_minutes: i.duration_minutes,
            timezone: i.timezone.clone().unwrap_or_else(|| "UTC".into()),
            comment: i.comment.clone(),
            created_at: now,
            updated_at: now,
        };
        check_window(&w).map_err(|e| {
            let path = match e {
                WindowError::Cron(_) => "cron",
                WindowError::Zone(_) => "timezone",
            };
            Problem {
                path: path.into(),
                message: e.to_string(),
            }
        })
    }
}
