//! Queries: series selection, merging blocks, frozen heads and the head, rollups.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::sync::atomic::Ordering;

use std::sync::Arc;

use super::block::Block;
use super::rollup::{ROLLUP_MS, Roll, SeriesRolls, merge_roll, rollup, sort_dedup, to_grid};
use super::{Core, EmbeddedStore};
use crate::codec::stream::StreamChunk;
use crate::{
    LabelMatcher, Latest, MetricStore, RangeQuery, Sample, SeriesKey, SeriesPoints, TsdbError,
    matches_all, now_ms,
};

/// True when series `sid` has samples in `[start, end]` by the time ranges of its in-memory
/// chunks and block entries (no decoding; as the blocks' index, a range overlapping the
/// window counts).
fn has_data(core: &Core, blocks: &[Arc<Block>], sid: u32, start: i64, end: i64) -> bool {
    let i = sid as usize;
    core.frozen
        .iter()
        .filter_map(|f| f.data.get(i))
        .chain(core.head.get(i))
        .any(|c| {
            c.time_range()
                .is_some_and(|(lo, hi)| hi >= start && lo <= end)
        })
        || blocks.iter().any(|b| {
            b.entries
                .get(&sid)
                .is_some_and(|e| e.max_t >= start && e.min_t <= end)
        })
}

/// Selections by matcher set, as VictoriaMetrics keeps its tag-filters cache: dashboards
/// and alert rules send the same selectors again and again, and answering one scans every
/// series of its metric (10,000 label comparisons for one series of 10,000). Entries are
/// valid while no series is added (series ids never change or go away while the store is
/// open); a new series empties the cache. Only ids are kept (4 bytes each), at most
/// [`SELECT_CACHE_IDS`] in all: the cache is emptied when a new entry would pass that.
#[derive(Debug, Default)]
pub(crate) struct SelectCache {
    /// The series count the entries were computed at.
    series_len: usize,
    ids: usize,
    map: HashMap<String, Vec<u32>>,
}

/// Most series ids the selection cache holds (4 MB).
pub(crate) const SELECT_CACHE_IDS: usize = 1 << 20;

impl SelectCache {
    fn key(matchers: &[LabelMatcher]) -> String {
        let mut k = String::new();
        for m in matchers {
            let op = match m.kind {
                crate::MatchKind::Eq => "=",
                crate::MatchKind::Ne => "!=",
                crate::MatchKind::Re(_) => "=~",
                crate::MatchKind::NotRe(_) => "!~",
            };
            k.push_str(&m.name);
            k.push_str(op);
            k.push_str(&m.value);
            k.push('\u{0}');
        }
        k
    }

    fn get(&mut self, key: &str, series_len: usize) -> Option<&Vec<u32>> {
        if series_len != self.series_len {
            self.map.clear();
            self.ids = 0;
            self.series_len = series_len;
            return None;
        }
        self.map.get(key)
    }

    fn put(&mut self, key: String, ids: Vec<u32>, series_len: usize) {
        if series_len != self.series_len || self.ids + ids.len() > SELECT_CACHE_IDS {
            self.map.clear();
            self.ids = 0;
            self.series_len = series_len;
        }
        if ids.len() > SELECT_CACHE_IDS {
            return;
        }
        self.ids += ids.len();
        if let Some(old) = self.map.insert(key, ids) {
            self.ids -= old.len();
        }
    }
}

impl EmbeddedStore {
    /// Matching series ids, in key order. Repeated selectors are answered from the
    /// core's [`SelectCache`].
    fn select(&self, matchers: &[LabelMatcher]) -> Vec<(u32, SeriesKey)> {
        let key = SelectCache::key(matchers);
        let mut guard = self.lock();
        let core = &mut *guard;
        let len = core.series.len();
        if let Some(ids) = core.select_cache.get(&key, len) {
            return ids
                .iter()
                .map(|&i| (i, (*core.series[i as usize]).clone()))
                .collect();
        }
        let named = matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.kind, crate::MatchKind::Eq))
            .map(|m| m.value.as_str());
        let mut v: Vec<(u32, SeriesKey)> = match named {
            Some(n) => core
                .by_name
                .get(n)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|&i| (i, &*core.series[i as usize]))
                .filter(|(_, k)| matches_all(matchers, k))
                .map(|(i, k)| (i, k.clone()))
                .collect(),
            None => core
                .series
                .iter()
                .enumerate()
                .filter(|(_, k)| matches_all(matchers, k))
                .map(|(i, k)| (i as u32, (**k).clone()))
                .collect(),
        };
        v.sort_by(|a, b| a.1.cmp(&b.1));
        core.select_cache
            .put(key, v.iter().map(|(i, _)| *i).collect(), len);
        v
    }

    /// In-memory samples (frozen heads, then head) of `sids` within `[start, end]`. The
    /// compressed chunks are copied under the writer lock and decoded after it is released.
    fn mem_samples(&self, sids: &[(u32, SeriesKey)], start: i64, end: i64) -> Vec<Vec<(i64, f64)>> {
        let overlaps = |c: &StreamChunk| {
            c.time_range()
                .is_some_and(|(lo, hi)| hi >= start && lo <= end)
        };
        let chunks: Vec<Vec<StreamChunk>> = {
            let core = self.lock();
            sids.iter()
                .map(|(sid, _)| {
                    let i = *sid as usize;
                    core.frozen
                        .iter()
                        .filter_map(|f| f.data.get(i))
                        .chain(core.head.get(i))
                        .filter(|c| overlaps(c))
                        .cloned()
                        .collect()
                })
                .collect()
        };
        chunks
            .into_iter()
            .map(|cs| {
                let mut out = Vec::new();
                for c in cs {
                    // a chunk in memory was written by this process: it decodes
                    let _ = c.for_each(|t, v| {
                        if t >= start && t <= end {
                            out.push((t, v));
                        }
                    });
                }
                out
            })
            .collect()
    }

    /// Raw samples of the given series, merged and sorted.
    async fn raw_for(
        &self,
        sids: Vec<(u32, SeriesKey)>,
        start: i64,
        end: i64,
    ) -> Result<Vec<SeriesPoints>, TsdbError> {
        let mem = self.mem_samples(&sids, start, end);
        let blocks = self.blocks();
        tokio::task::spawn_blocking(move || -> Result<Vec<SeriesPoints>, TsdbError> {
            let mut out = Vec::with_capacity(sids.len());
            for ((sid, key), m) in sids.into_iter().zip(mem) {
                let mut pts = Vec::new();
                for b in blocks.iter() {
                    if b.max_t < start || b.min_t > end {
                        continue;
                    }
                    let Some(e) = b.entries.get(&sid) else {
                        continue;
                    };
                    if e.max_t < start || e.min_t > end {
                        continue;
                    }
                    if let Some(r) = e.raw {
                        let (ts, cols) = b.read_chunk(r, 1)?;
                        pts.extend(
                            ts.into_iter()
                                .zip(cols.into_iter().next().unwrap_or_default())
                                .filter(|p| p.0 >= start && p.0 <= end),
                        );
                    } else {
                        // raw samples expired: the rollups' last value at each bucket end
                        pts.extend(
                            b.rolls(e)?
                                .into_iter()
                                .map(|(t, r)| (t, r[4]))
                                .filter(|p| p.0 >= start && p.0 <= end),
                        );
                    }
                }
                pts.extend(m);
                sort_dedup(&mut pts);
                if !pts.is_empty() {
                    out.push(SeriesPoints { key, points: pts });
                }
            }
            Ok(out)
        })
        .await?
    }

    /// Rollup buckets (by end time) of the given series with ends in `[start, end]`.
    async fn rollups_for(
        &self,
        sids: Vec<(u32, SeriesKey)>,
        start: i64,
        end: i64,
    ) -> Result<Vec<SeriesRolls>, TsdbError> {
        let mut mem = self.mem_samples(&sids, start - ROLLUP_MS, end);
        let blocks = self.blocks();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(sids.len());
            for ((sid, key), m) in sids.into_iter().zip(mem.iter_mut()) {
                let mut acc: BTreeMap<i64, Roll> = BTreeMap::new();
                for b in blocks.iter() {
                    if b.max_t < start - ROLLUP_MS || b.min_t > end {
                        continue;
                    }
                    let Some(e) = b.entries.get(&sid) else {
                        continue;
                    };
                    if let Some(r) = e.raw {
                        // raw samples are merged (and deduplicated) first, then rolled up
                        let (ts, c) = b.read_chunk(r, 1)?;
                        let lo = start - ROLLUP_MS;
                        m.extend(
                            ts.into_iter()
                                .zip(c.into_iter().next().unwrap_or_default())
                                .filter(|p| p.0 > lo && p.0 <= end),
                        );
                    } else {
                        for (t, r) in b.rolls(e)? {
                            if t >= start && t <= end {
                                acc.entry(t).and_modify(|a| merge_roll(a, &r)).or_insert(r);
                            }
                        }
                    }
                }
                sort_dedup(m);
                for (t, r) in rollup(m) {
                    if t >= start && t <= end {
                        acc.entry(t).and_modify(|a| merge_roll(a, &r)).or_insert(r);
                    }
                }
                if !acc.is_empty() {
                    out.push((key, acc.into_iter().collect()));
                }
            }
            Ok(out)
        })
        .await?
    }

    /// Number of blocks and total bytes on disk (blocks + WAL), for benchmarks.
    pub fn disk_usage(&self) -> Result<(usize, u64), TsdbError> {
        let mut bytes = 0;
        let mut n = 0;
        for sub in ["blocks", "wal"] {
            for e in fs::read_dir(self.cfg.dir.join(sub))? {
                let m = e?.metadata()?;
                bytes += m.len();
                if sub == "blocks" {
                    n += 1;
                }
            }
        }
        Ok((n, bytes))
    }

    /// Bytes of the blocks by kind: (raw chunks, rollup chunks, everything else: index,
    /// footers), for benchmarks.
    pub fn block_bytes(&self) -> (u64, u64, u64) {
        let (mut raw, mut roll, mut total) = (0, 0, 0);
        for b in self.blocks().iter() {
            total += b.file.metadata().map(|m| m.len()).unwrap_or(0);
            for e in b.entries.values() {
                raw += e.raw.map_or(0, |r| u64::from(r.1));
                roll += u64::from(e.roll.1);
            }
        }
        (raw, roll, total.saturating_sub(raw + roll))
    }
}

#[async_trait::async_trait]
impl MetricStore for EmbeddedStore {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), TsdbError> {
        self.append_sync(batch)
    }

    async fn append_text(&self, text: &str, default_ts_ms: i64) -> Result<usize, TsdbError> {
        self.append_text_sync(text, default_ts_ms)
    }

    async fn range(&self, q: &RangeQuery) -> Result<Vec<SeriesPoints>, TsdbError> {
        if q.step_ms <= 0 || q.end_ms < q.start_ms {
            return Err(TsdbError::BadQuery(
                "step must be > 0 and end >= start".into(),
            ));
        }
        if (q.end_ms - q.start_ms) / q.step_ms > 1_000_000 {
            return Err(TsdbError::BadQuery("too many points".into()));
        }
        let sids = self.select(&q.matchers);
        let raw_floor = now_ms() - self.cfg.raw_retention.as_millis() as i64;
        let use_rollup = q.step_ms % ROLLUP_MS == 0
            && q.start_ms % ROLLUP_MS == 0
            && (q.end_ms - q.start_ms >= self.cfg.rollup_min_range.as_millis() as i64
                || q.start_ms - q.step_ms < raw_floor);
        if use_rollup {
            let rolls = self
                .rollups_for(sids, q.start_ms - q.step_ms + 1, q.end_ms)
                .await?;
            Ok(rolls
                .into_iter()
                .map(|(key, r)| SeriesPoints {
                    key,
                    points: to_grid(r.into_iter(), q),
                })
                .filter(|s| !s.points.is_empty())
                .collect())
        } else {
            let raw = self
                .raw_for(sids, q.start_ms - q.step_ms + 1, q.end_ms)
                .await?;
            Ok(raw
                .into_iter()
                .map(|s| SeriesPoints {
                    points: to_grid(s.points.iter().map(|&(t, v)| (t, [v, v, v, 1.0, v])), q),
                    key: s.key,
                })
                .filter(|s| !s.points.is_empty())
                .collect())
        }
    }

    async fn raw(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesPoints>, TsdbError> {
        let sids = self.select(matchers);
        self.raw_for(sids, start_ms, end_ms).await
    }

    async fn latest(&self, matchers: &[LabelMatcher]) -> Result<Vec<Latest>, TsdbError> {
        let sids = self.select(matchers);
        let mut out = Vec::new();
        let blocks = self.blocks();
        for (sid, key) in sids {
            let mem = self
                .mem_samples(&[(sid, key.clone())], i64::MIN, i64::MAX)
                .pop()
                .unwrap_or_default();
            let mut best = mem.iter().copied().max_by_key(|p| p.0);
            // newest block holding the series with data later than what memory has
            let cand = blocks
                .iter()
                .filter_map(|b| b.entries.get(&sid).map(|e| (e.max_t, b.clone())))
                .max_by_key(|(t, _)| *t);
            if let Some((bt, b)) = cand
                && best.is_none_or(|p| p.0 < bt)
                && let Some(e) = b.entries.get(&sid)
            {
                let (ts, cols) = match e.raw {
                    Some(r) => b.read_chunk(r, 1)?,
                    None => {
                        let r = b.rolls(e)?;
                        (
                            r.iter().map(|x| x.0).collect(),
                            vec![r.iter().map(|x| x.1[4]).collect()],
                        )
                    }
                };
                if let (Some(&t), Some(&v)) = (ts.last(), cols[0].last()) {
                    best = Some((t, v));
                }
            }
            if let Some((t, v)) = best {
                out.push(Latest {
                    key,
                    timestamp_ms: t,
                    value: v,
                });
            }
        }
        Ok(out)
    }

    async fn series(
        &self,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesKey>, TsdbError> {
        let mut all: Vec<(u32, SeriesKey)> = Vec::new();
        for m in matcher_sets {
            all.extend(self.select(m));
        }
        all.sort_by(|a, b| a.1.cmp(&b.1));
        all.dedup_by(|a, b| a.0 == b.0);
        let blocks = self.blocks();
        let present: Vec<bool> = {
            let core = self.lock();
            all.iter()
                .map(|(sid, _)| has_data(&core, &blocks, *sid, start_ms, end_ms))
                .collect()
        };
        Ok(all
            .into_iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|((_, k), _)| k)
            .collect())
    }

    /// Metric names come from the name index (Grafana asks for them on every editor open).
    async fn label_values(
        &self,
        name: &str,
        matcher_sets: &[Vec<LabelMatcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<String>, TsdbError> {
        if name == "__name__" && matcher_sets.is_empty() {
            let blocks = self.blocks();
            let core = self.lock();
            let mut names: Vec<String> = core
                .by_name
                .iter()
                .filter(|(_, sids)| {
                    sids.iter()
                        .any(|&sid| has_data(&core, &blocks, sid, start_ms, end_ms))
                })
                .map(|(n, _)| n.to_string())
                .filter(|n| !n.is_empty())
                .collect();
            names.sort();
            return Ok(names);
        }
        let series = self
            .series(&crate::all_or(matcher_sets), start_ms, end_ms)
            .await?;
        Ok(crate::label_values_of(&series, name))
    }

    async fn flush(&self) -> Result<(), TsdbError> {
        self.dirty.store(true, Ordering::Relaxed);
        self.sync_wal()
    }

    async fn close(&self) {
        self.background.close().await;
    }
}
