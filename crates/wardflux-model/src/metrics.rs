//! Samples and the metric sink: the seam between collectors and time-series storage.
//!
//! Collectors (ICMP, SNMP) produce [`Sample`]s and hand them to a [`MetricSink`].
//! The storage crate implements the sink (embedded store, VictoriaMetrics, fan-out),
//! and the alert engine can tap the same stream by wrapping a sink.

use std::sync::Arc;

/// A sorted, de-duplicated set of label pairs (without `__name__`).
///
/// Packed: every name and value back to back in one string, plus their end offsets, so a set
/// costs two allocations whatever its size. The metric store keeps one per series (250,000
/// series for 10,000 polled devices): with a `Vec<(String, String)>` (15 allocations for 7
/// pairs) a poller interface series cost the store 700 bytes, packed 444
/// (wardflux-tsdb's tests/series_memory.rs, docs/perf/polling.md).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels {
    /// `name0 value0 name1 value1 ...`, pairs sorted by name.
    text: Box<str>,
    /// End offset in `text` of each name and value (two per pair).
    ends: Box<[u32]>,
}

impl Labels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a label set from pairs; later duplicates of a name replace earlier ones.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // stable: of equal names the last given comes last, and is the one kept
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(v.len());
        for p in v {
            match out.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => out.push(p),
            }
        }
        Self::pack(out.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Packs pairs already sorted by name and without duplicates.
    fn pack<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let (n, bytes) = pairs
            .clone()
            .fold((0, 0), |(n, b), (k, v)| (n + 1, b + k.len() + v.len()));
        let mut text = String::with_capacity(bytes);
        let mut ends = Vec::with_capacity(2 * n);
        for (k, v) in pairs {
            text.push_str(k);
            ends.push(Self::offset(text.len()));
            text.push_str(v);
            ends.push(Self::offset(text.len()));
        }
        Self {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    fn offset(n: usize) -> u32 {
        u32::try_from(n).expect("a label set is smaller than 4 GiB")
    }

    fn name_at(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends[2 * i - 1] as usize
        };
        &self.text[start..self.ends[2 * i] as usize]
    }

    fn value_at(&self, i: usize) -> &str {
        &self.text[self.ends[2 * i] as usize..self.ends[2 * i + 1] as usize]
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name_at(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Sets a label (replacing its value if present). Repacks the set: to build a set of
    /// several labels at once, [`Labels::from_pairs`] packs once.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        let (at, replace) = match self.find(&name) {
            Ok(i) => (i, true),
            Err(i) => (i, false),
        };
        let new = (name.as_str(), value.as_str());
        let packed = {
            let before = (0..at).map(|i| (self.name_at(i), self.value_at(i)));
            let after = (at + usize::from(replace)..self.len())
                .map(|i| (self.name_at(i), self.value_at(i)));
            Self::pack(before.chain(std::iter::once(new)).chain(after))
        };
        *self = packed;
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).ok().map(|i| self.value_at(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        (0..self.len()).map(|i| (self.name_at(i), self.value_at(i)))
    }

    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Heap bytes this set holds (its text and offsets, as allocated).
    pub fn heap_bytes(&self) -> usize {
        self.text.len() + self.ends.len() * std::mem::size_of::<u32>()
    }
}

/// Pair by pair, as a `Vec<(String, String)>` of the same pairs orders.
impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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
        let mut m = Labels::new();
        for (k, v) in [
            ("ip", "x"),
            ("device", "a"),
            ("zone", ""),
            ("ip", "127.0.0.2"),
            ("", "e"),
        ] {
            m.insert(k, v);
        }
        let v: Vec<_> = m.iter().collect();
        assert_eq!(
            v,
            vec![
                ("", "e"),
                ("device", "a"),
                ("ip", "127.0.0.2"),
                ("zone", "")
            ]
        );
        assert_eq!(m.get(""), Some("e"));
        assert_eq!(m.get("zone"), Some(""));
        m.insert("device", "b");
        assert_eq!(m.get("device"), Some("b"));
        assert_eq!(m.len(), 4);
        // equal sets are equal however they were built; order is pair by pair
        assert_eq!(
            Labels::from_pairs([("b", "1"), ("a", "2")]),
            Labels::from_pairs([("a", "2"), ("b", "1")])
        );
        assert!(Labels::from_pairs([("a", "1")]) < Labels::from_pairs([("a", "1"), ("b", "")]));
        assert!(Labels::from_pairs([("a", "2")]) > Labels::from_pairs([("a", "1"), ("b", "")]));
        assert!(Labels::from_pairs([("ab", "")]) > Labels::from_pairs([("a", "b")]));
        assert_ne!(
            Labels::from_pairs([("ab", "")]),
            Labels::from_pairs([("a", "b")])
        );
        assert!(Labels::new().is_empty());
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
