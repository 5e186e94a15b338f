//! Helpers shared by the collector's test binaries: a metric sink that keeps every sample
//! in memory, so a test can read back what the monitor or the poller wrote, and a bounded
//! wait for a condition (never a sleep as synchronisation).
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use uuid::Uuid;
use wardflux_model::{MetricSink, Sample, SinkError};

/// Keeps every appended sample, in arrival order.
#[derive(Default)]
pub struct MemSink(pub Mutex<Vec<Sample>>);

#[async_trait::async_trait]
impl MetricSink for MemSink {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl MemSink {
    /// Samples of `metric` whose label `label` is `value`, in arrival order.
    pub fn with_label(&self, metric: &str, label: &str, value: &str) -> Vec<Sample> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.metric == metric && s.labels.get(label) == Some(value))
            .cloned()
            .collect()
    }

    /// Samples of `metric` for the device with id `device` (label `device_id`).
    pub fn of(&self, metric: &str, device: Uuid) -> Vec<Sample> {
        self.with_label(metric, "device_id", &device.to_string())
    }

    /// How many samples of `metric` the device with id `device` has.
    pub fn count(&self, metric: &str, device: Uuid) -> usize {
        self.of(metric, device).len()
    }

    /// Values of `metric` for the device named `device` (label `device`).
    pub fn values(&self, metric: &str, device: &str) -> Vec<f64> {
        self.with_label(metric, "device", device)
            .iter()
            .map(|s| s.value)
            .collect()
    }
}

/// Polls `cond` every 20 ms until it holds or `within` passes.
pub async fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
