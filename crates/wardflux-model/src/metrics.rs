//! Samples and the metric sink: the seam between collectors and time-series storage.
//!
//! Collectors (ICMP, SNMP) produce [`Sample`]s and hand them to a [`MetricSink`].
//! The storage crate implements the sink (embedded store, VictoriaMetrics, fan-out),
//! and the alert engine can tap the same stream by wrapping a sink.

use std::sync::Arc;

/// A sorted, de-duplicated set of label pairs (without `__name__`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs; later duplicates of a name replace earlier ones.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut l = Self::new();
        for (k, v) in pairs {
            l.insert(k, v);
        }
        l
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One observation of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `ping_rtt_ms` (see docs/metrics.md for the naming guide).
    pub metric: String,
    pub labels: Labels,
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    pub value: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The backend is unavailable and the sample could not even be spooled.
    #[error("metric sink unavailable: {0}")]
    Unavailable(String),
    #[error("metric sink rejected the batch: {0}")]
    Rejected(String),
}

/// Where collectors put samples. Implementations must be cheap to call concurrently
/// from many tasks; batching and back-pressure are theirs to handle.
#[async_trait::async_trait]
pub trait MetricSink: Send + Sync {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError>;
}

#[async_trait::async_trait]
impl<T: MetricSink + ?Sized> MetricSink for Arc<T> {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        (**self).append(batch).await
    }
}

/// Hands every batch to several sinks in order: the metric store first, then subscribers
/// that react to samples (the alert engine evaluates after the store has the batch, so its
/// queries see it). Every sink gets the batch even when an earlier one failed; the first
/// error is returned.
#[derive(Clone, Default)]
pub struct FanoutSink {
    sinks: Vec<Arc<dyn MetricSink>>,
}

impl FanoutSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink after the ones already there (builder style).
    pub fn with(mut self, s: Arc<dyn MetricSink>) -> Self {
        self.sinks.push(s);
        self
    }

    pub fn push(&mut self, s: Arc<dyn MetricSink>) {
        self.sinks.push(s);
    }

    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

#[async_trait::async_trait]
impl MetricSink for FanoutSink {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        let Some((last, rest)) = self.sinks.split_last() else {
            return Ok(());
        };
        let mut first_err = None;
        for s in rest {
            if let Err(e) = s.append(batch.clone()).await {
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = last.append(batch).await {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sorted_and_deduplicated() {
        let l = Labels::from_pairs([("ip", "127.0.0.1"), ("device", "a"), ("ip", "127.0.0.2")]);
        let v: Vec<_> = l.iter().collect();
        assert_eq!(v, vec![("device", "a"), ("ip", "127.0.0.2")]);
        assert_eq!(l.get("ip"), Some("127.0.0.2"));
        assert_eq!(l.get("nope"), None);
    }

    struct Keep(std::sync::Mutex<Vec<Sample>>, bool);

    #[async_trait::async_trait]
    impl MetricSink for Keep {
        async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
            self.0.lock().unwrap().extend(batch);
            if self.1 {
                Err(SinkError::Rejected("no".into()))
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn fanout_sink_feeds_all_and_reports_the_first_error() {
        let failing = Arc::new(Keep(Default::default(), true));
        let ok = Arc::new(Keep(Default::default(), false));
        let f = FanoutSink::new().with(failing.clone()).with(ok.clone());
        let s = Sample {
            metric: "m".into(),
            labels: Labels::new(),
            timestamp_ms: 1,
            value: 2.0,
        };
        let mut fut = std::pin::pin!(f.append(vec![s.clone()]));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(r) = fut.as_mut().poll(&mut cx) else {
            panic!("sinks here never wait")
        };
        assert!(matches!(r, Err(SinkError::Rejected(_))));
        assert_eq!(
            failing.0.lock().unwrap().as_slice(),
            std::slice::from_ref(&s)
        );
        assert_eq!(ok.0.lock().unwrap().as_slice(), &[s]);
    }
}
