//! The status-history writer: every device state change becomes a row of the store's
//! `device_status_history` table (and one log line). One subscriber of the monitors'
//! [`StateRecorder`] fan-out, next to the alert engine and the UI's live updates.

use wardflux_model::{DeviceState, StateChange, StateRecorder};
use wardflux_store::Store;

pub struct HistoryWriter(pub Store);

#[async_trait::async_trait]
impl StateRecorder for HistoryWriter {
    async fn record(&self, c: StateChange) {
        let (from, to) = c.shown_states();
        let reason = format!(
            "{}; decided at {}",
            c.source,
            c.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        if to == DeviceState::Down {
            tracing::warn!(device = %c.name, ip = %c.ip, %from, %to, kind = ?c.kind, since = %c.since, "device state change");
        } else {
            tracing::info!(device = %c.name, ip = %c.ip, %from, %to, kind = ?c.kind, since = %c.since, "device state change");
        }
        if let Err(e) = self
            .0
            .record_status_change(c.device_id, from, to, c.since, Some(reason))
            .await
        {
            tracing::error!(device_id = %c.device_id, error = %e, "could not record a state change");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use wardflux_model::TransitionKind;
    use wardflux_model::inventory::{Actor, DeviceInput};

    /// The production writer against a real SQLite store: a plain change, entering and
    /// leaving flapping, each as the history shows it, with its reason and time.
    #[tokio::test]
    async fn history_rows_for_changes_and_flapping() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("h.db").display());
        let store = Store::connect(
            &url,
            wardflux_store::Cipher::from_key(&wardflux_store::Cipher::generate_key()).unwrap(),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let d = store
            .create_device(
                &Actor::system(),
                DeviceInput {
                    name: "r1".into(),
                    ip: "127.0.0.1".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let w = HistoryWriter(store.clone());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap();
        let change = |kind, from, to, secs| StateChange {
            device_id: d.id,
            name: d.name.clone(),
            ip: d.ip,
            kind,
            from,
            to,
            since: t0 + Duration::seconds(secs),
            at: t0 + Duration::seconds(secs + 3),
            source: "icmp",
        };
        use DeviceState::{Down, Flapping, Up};
        w.record(change(TransitionKind::Changed, Up, Down, 0)).await;
        w.record(change(TransitionKind::FlappingStarted, Down, Up, 60))
            .await;
        w.record(change(TransitionKind::FlappingStopped, Up, Up, 600))
            .await;
        let rows = store.status_history(d.id, None, None, 10).await.unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.from_state, r.to_state, r.at))
            .collect();
        assert_eq!(
            got,
            vec![
                (Up, Down, t0),
                (Down, Flapping, t0 + Duration::seconds(60)),
                (Flapping, Up, t0 + Duration::seconds(600)),
            ]
        );
        assert_eq!(
            rows[0].reason.as_deref(),
            Some("icmp; decided at 2026-11-30T06:00:03.000Z")
        );
    }
}
