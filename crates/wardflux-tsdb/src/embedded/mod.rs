//! The embedded time-series store: no external process, crash-safe, compressed, with rollups.
//!
//! Storage engine written here (no LSM/B-tree crate): samples of a monitoring system arrive in
//! time order and are never updated, so a write-ahead log plus immutable, time-partitioned block
//! files is all that is needed. fjall/redb were considered: they would add write amplification
//! and their own compaction without helping compression, which comes from [`crate::codec`]
//! (delta-of-delta timestamps, decimal bit-packing or Gorilla XOR values). Checksums: `crc32fast`.
//!
//! * **WAL** (`wal/<seq>.wal`): every [`append`](MetricStore::append) is one length+CRC framed
//!   record written with one `write(2)` before the call returns, so a `kill -9` loses nothing that
//!   was acknowledged; a background task `fsync`s every `fsync_interval` (1 s), which bounds what a
//!   power loss can cost. A torn or corrupt tail record is ignored on replay. Each segment declares
//!   the series it uses, so it is self-contained.
//! * **Head**: the samples since the last block cut, in memory, per series.
//! * **Blocks** (`blocks/<seq>.blk`): every `block_interval` the head is frozen, the WAL rotated,
//!   and the frozen head written as an immutable block (temp file, fsync, rename, fsync dir), then
//!   the covered WAL segments are deleted. Replay skips WAL segments a block already covers.
//!   A block holds per series a raw chunk and optionally (`precompute_rollups`) a rollup chunk
//!   (5-minute buckets keyed by their end `e`, covering `(e-5m, e]`, with min, max, sum, count
//!   and last), then an index with the series keys and a CRC-checked footer.
//! * **Compaction**: every `compact_blocks` (24) consecutive hourly blocks are merged into one
//!   `blocks/<lo>-<hi>.blk` (about one file per day); opening deletes blocks a merged range
//!   covers, so a crash mid-compaction neither loses nor duplicates data.
//! * **Retention**: blocks older than `raw_retention` are rewritten as rollup-only blocks
//!   (rollups computed from the raw chunks then, unless stored already); blocks older than
//!   `rollup_retention` are deleted. Storing rollups only from then on halves the disk use
//!   of recent data (rollups of 1-minute data cost as much as the raw samples).
//! * **Queries** merge blocks, frozen heads and the head; long ranges (>= `rollup_min_range`, or
//!   reaching past raw retention) with 5-minute-aligned start and step read the rollups.

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::codec::stream::StreamChunk;
use crate::{EmbeddedConfig, MetricName, Sample, SeriesKey, TsdbError, expo, now_ms};

mod block;
mod maint;
mod query;
mod rollup;
mod wal;

use block::{Block, block_files, load_block};
pub use rollup::ROLLUP_MS;
use wal::{Wal, read_checkpoint, replay_wal, seq_files};

/// A head frozen by a block cut, readable until its block is written.
struct Frozen {
    /// WAL segments up to `seq` hold exactly this data.
    seq: u64,
    data: Vec<StreamChunk>,
}

/// Writer state. Series map, head and WAL change together under one std mutex so a block cut
/// or checkpoint sees a consistent (head, WAL segment) pair; no await happens while it is held.
pub(crate) struct Core {
    /// Series keys by id; shared with `by_key`, so each key is held once.
    series: Vec<Arc<SeriesKey>>,
    by_key: HashMap<Arc<SeriesKey>, u32>,
    /// Series ids by metric name (most selectors name their metric). Its keys are the
    /// store's one copy of each name: every series key shares it ([`Core::name`]).
    by_name: HashMap<MetricName, Vec<u32>>,
    /// Recent selections (matcher set -> series ids), valid until a series is added.
    select_cache: query::SelectCache,
    /// Series ids by the exposition text that named them (`name{...}` as imported), so an
    /// imported line of a known series is not parsed into labels again. Bounded: cleared
    /// when it outgrows twice the series count (texts differing only in spacing or label order).
    by_text: HashMap<Box<str>, u32>,
    /// The open block's samples, per series id, compressed as they arrive.
    head: Vec<StreamChunk>,
    head_len: usize,
    frozen: Vec<Arc<Frozen>>,
    wal: Wal,
    /// Lowest WAL segment whose samples are in the head (replayed segments included).
    head_lo: u64,
    /// WAL bytes not yet replaced by a checkpoint or a block.
    wal_pending: u64,
    /// Size of the last checkpoint of this head (0 before the first).
    last_ckpt_bytes: u64,
    closed: bool,
}

impl Core {
    /// The store's copy of a metric name (a new name is kept when its first series is added).
    fn name(&self, metric: String) -> MetricName {
        match self.by_name.get_key_value(metric.as_str()) {
            Some((name, _)) => name.clone(),
            None => metric.into(),
        }
    }

    fn sid(&mut self, mut key: SeriesKey) -> u32 {
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let id = self.series.len() as u32;
        match self.by_name.get_key_value(&*key.metric) {
            Some((name, _)) => key.metric = name.clone(),
            None => {
                self.by_name.insert(key.metric.clone(), Vec::new());
            }
        }
        if let Some(ids) = self.by_name.get_mut(&*key.metric) {
            ids.push(id);
        }
        let key = Arc::new(key);
        self.series.push(key.clone());
        self.by_key.insert(key, id);
        self.head.push(StreamChunk::default());
        id
    }

    fn push(&mut self, sid: u32, t: i64, v: f64) {
        self.head[sid as usize].push(t, v);
        self.head_len += 1;
    }

    /// Compressed bytes of the head's streams.
    fn head_chunk_bytes(&self) -> usize {
        self.head.iter().map(StreamChunk::heap_bytes).sum()
    }
}

/// What the open head holds in memory (see [`EmbeddedStore::head_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadStats {
    /// Series known to the store.
    pub series: usize,
    /// Samples in the open head.
    pub samples: usize,
    /// Heap bytes of the head's compressed streams (capacity, not length).
    pub chunk_bytes: usize,
    /// WAL bytes on disk not yet replaced by a checkpoint or a block.
    pub wal_bytes: u64,
}

/// The embedded store. Cheap to share: wrap in `Arc` (as [`crate::open`] does).
pub struct EmbeddedStore {
    cfg: EmbeddedConfig,
    core: Mutex<Core>,
    /// Copy-on-write list of blocks sorted by seq; readers clone the `Arc` and read without locks.
    blocks: RwLock<Arc<Vec<Arc<Block>>>>,
    /// Serialises block cuts, checkpoints, compaction and retention runs.
    maint: tokio::sync::Mutex<()>,
    /// Set by appends, cleared by the fsync task.
    dirty: AtomicBool,
    /// The background task, for `close`.
    background: crate::Background,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `cfg.dir`: loads the blocks, the newest head
    /// checkpoint, and replays the WAL after it.
    pub async fn open(cfg: EmbeddedConfig) -> Result<Arc<Self>, TsdbError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(cfg)).await?
    }

    fn open_blocking(cfg: EmbeddedConfig) -> Result<Arc<Self>, TsdbError> {
        let wal_dir = cfg.dir.join("wal");
        let blk_dir = cfg.dir.join("blocks");
        fs::create_dir_all(&wal_dir)?;
        fs::create_dir_all(&blk_dir)?;
        let mut series: Vec<Arc<SeriesKey>> = Vec::new();
        let mut by_key: HashMap<Arc<SeriesKey>, u32> = HashMap::new();
        // one copy of each metric name (see `Core::by_name`)
        let mut names: std::collections::HashSet<MetricName> = std::collections::HashSet::new();
        let mut blocks = Vec::new();
        let files = block_files(&blk_dir)?;
        // a compacted block replaces the blocks inside its range; leftovers of a crash
        // between its rename and their deletion are deleted now
        let mut live = Vec::new();
        for (lo, hi, path) in &files {
            if files
                .iter()
                .any(|(l2, h2, p2)| p2 != path && l2 <= lo && hi <= h2 && (l2, h2) != (lo, hi))
            {
                fs::remove_file(path)?;
            } else {
                live.push((*lo, *hi, path.clone()));
            }
        }
        // blocks are cut in WAL order: every segment up to the newest block's is in a block
        let mut covered = 0;
        for (lo, _, path) in live {
            let mut resolve = |mut k: SeriesKey| {
                if let Some(&id) = by_key.get(&k) {
                    return id;
                }
                match names.get(&*k.metric) {
                    Some(name) => k.metric = name.clone(),
                    None => {
                        names.insert(k.metric.clone());
                    }
                }
                let k = Arc::new(k);
                series.push(k.clone());
                by_key.insert(k, series.len() as u32 - 1);
                series.len() as u32 - 1
            };
            let b = load_block(&path, lo, &mut resolve)?;
            covered = covered.max(b.seq);
            blocks.push(Arc::new(b));
        }
        let wals = seq_files(&wal_dir, "wal")?;
        let ckpts = seq_files(&wal_dir, "ckpt")?;
        let max_seq = wals
            .iter()
            .chain(&ckpts)
            .map(|x| x.0)
            .fold(covered, u64::max);
        let head = vec![StreamChunk::default(); series.len()];
        drop(names);
        let mut by_name: HashMap<MetricName, Vec<u32>> = HashMap::new();
        for (i, k) in series.iter().enumerate() {
            by_name.entry(k.metric.clone()).or_default().push(i as u32);
        }
        let wal = Wal::create(&wal_dir, max_seq + 1)?;
        let mut core = Core {
            series,
            by_key,
            by_name,
            select_cache: query::SelectCache::default(),
            by_text: HashMap::new(),
            head,
            head_len: 0,
            frozen: Vec::new(),
            head_lo: max_seq + 1,
            wal,
            wal_pending: 0,
            last_ckpt_bytes: 0,
            closed: false,
        };
        // the newest checkpoint not already in a block; older ones are superseded
        let mut ckpt_seq = covered;
        if let Some((seq, path)) = ckpts.last().filter(|c| c.0 > covered) {
            let c = read_checkpoint(path)?;
            for (key, chunk) in c.series {
                let sid = core.sid(Arc::unwrap_or_clone(key));
                core.head_len += chunk.len();
                core.head[sid as usize] = chunk;
            }
            core.head_lo = c.lo;
            core.last_ckpt_bytes = fs::metadata(path)?.len();
            ckpt_seq = *seq;
            tracing::info!(path = %path.display(), samples = core.head_len, "head checkpoint loaded");
        }
        for (seq, path) in &ckpts {
            if *seq != ckpt_seq {
                fs::remove_file(path)?;
            }
        }
        for (seq, path) in wals {
            if seq <= ckpt_seq {
                // already in a block or the checkpoint (a crash came before this delete)
                fs::remove_file(&path)?;
            } else {
                core.head_lo = core.head_lo.min(seq);
                let n = replay_wal(&path, &mut core)?;
                core.wal_pending += fs::metadata(&path)?.len();
                tracing::info!(path = %path.display(), samples = n, "WAL replayed");
            }
        }
        Ok(Arc::new(Self {
            cfg,
            core: Mutex::new(core),
            blocks: RwLock::new(Arc::new(blocks)),
            maint: tokio::sync::Mutex::new(()),
            dirty: AtomicBool::new(false),
            background: crate::Background::default(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Core> {
        self.core
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn blocks(&self) -> Arc<Vec<Arc<Block>>> {
        self.blocks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Appends synchronously (what [`MetricStore::append`](crate::MetricStore::append)
    /// does; usable from blocking code).
    pub fn append_sync(&self, batch: Vec<Sample>) -> Result<(), TsdbError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut guard = self.lock();
        let core = &mut *guard;
        if core.closed {
            return Err(TsdbError::Closed);
        }
        let staged: Vec<(u32, i64, f64)> = batch
            .into_iter()
            .map(|s| {
                let key = SeriesKey {
                    metric: core.name(s.metric),
                    labels: s.labels,
                };
                let sid = core.sid(key);
                (sid, s.timestamp_ms, s.value)
            })
            .collect();
        self.commit(core, staged)
    }

    /// Appends exposition text synchronously (what
    /// [`MetricStore::append_text`](crate::MetricStore::append_text) does). Lines of series
    /// text seen before are resolved by one hash lookup, without parsing their labels.
    pub fn append_text_sync(&self, text: &str, default_ts_ms: i64) -> Result<usize, TsdbError> {
        let mut guard = self.lock();
        let core = &mut *guard;
        if core.closed {
            return Err(TsdbError::Closed);
        }
        let mut staged: Vec<(u32, i64, f64)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let split = expo::split_line(l, default_ts_ms);
            if let Some((series, v, t)) = split
                && let Some(&sid) = core.by_text.get(series)
            {
                staged.push((sid, t, v));
                continue;
            }
            let s = expo::parse_line(l, default_ts_ms).map_err(|reason| expo::ExpoError {
                line: i + 1,
                reason,
            })?;
            let (t, v) = (s.timestamp_ms, s.value);
            let key = SeriesKey {
                metric: core.name(s.metric),
                labels: s.labels,
            };
            let sid = core.sid(key);
            if let Some((series, v2, t2)) = split
                && (v2.to_bits(), t2) == (v.to_bits(), t)
            {
                if core.by_text.len() > 2 * core.series.len() + 1024 {
                    core.by_text.clear();
                }
                core.by_text.insert(series.into(), sid);
            }
            staged.push((sid, t, v));
        }
        let n = staged.len();
        if n > 0 {
            self.commit(core, staged)?;
        }
        Ok(n)
    }

    /// Writes staged samples to the WAL (one record), then to the head.
    fn commit(&self, core: &mut Core, staged: Vec<(u32, i64, f64)>) -> Result<(), TsdbError> {
        let before = core.wal.bytes;
        let series = &core.series;
        let res = core.wal.write(&staged, |sid| series[sid as usize].clone());
        core.wal_pending += core.wal.bytes - before;
        if let Err(e) = res {
            // a record that could not be cut off again may be half written: start a fresh
            // segment so replay stays consistent
            if !core.wal.healthy {
                let seq = core.wal.seq + 1;
                if let Ok(w) = Wal::create(&self.cfg.dir.join("wal"), seq) {
                    core.wal = w;
                }
            }
            return Err(e.into());
        }
        for (sid, t, v) in staged {
            core.push(sid, t, v);
        }
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// What the open head holds now.
    pub fn head_stats(&self) -> HeadStats {
        let core = self.lock();
        HeadStats {
            series: core.series.len(),
            samples: core.head_len,
            chunk_bytes: core.head_chunk_bytes(),
            wal_bytes: core.wal_pending,
        }
    }

    /// fsyncs the WAL (the background task does this every `fsync_interval`).
    pub fn sync_wal(&self) -> Result<(), TsdbError> {
        if self.dirty.swap(false, Ordering::Relaxed) {
            let f = self.lock().wal.sync.clone();
            f.sync_data()?;
        }
        Ok(())
    }

    /// Starts the background task: WAL fsync every `fsync_interval` (and a head checkpoint
    /// when due), block cut, retention and compaction every `block_interval`; on
    /// cancellation a last fsync and block cut.
    pub fn spawn_background(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let (shutdown, done) = self.background.start(&shutdown);
        tokio::spawn(async move {
            let _done = done;
            let mut fsync = tokio::time::interval(me.cfg.fsync_interval);
            // a slow checkpoint must not be followed by a burst of missed ticks (each
            // writing another checkpoint), and a due block cut goes first: it replaces the
            // head that a checkpoint would rewrite
            fsync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut cut = tokio::time::interval(me.cfg.block_interval);
            cut.tick().await;
            // Each checkpoint re-encodes the whole head. During a burst (an import of millions
            // of samples) one would be due on every tick, and ingest paid for re-encoding the
            // growing head again and again (0.74 M samples per CPU-s against 0.93 M without,
            // docs/perf/tsdb.md). So the next checkpoint waits at least
            // CHECKPOINT_SPACING times as long as the last one took: at most about a tenth of
            // the time goes to checkpoints, and after a burst the open hour is back under its
            // bound within that wait (a checkpoint of 3 M samples takes a fraction of a second).
            const CHECKPOINT_SPACING: u32 = 10;
            let mut next_checkpoint = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break,
                    _ = cut.tick() => {
                        if let Err(e) = me.cut_block().await {
                            tracing::error!(error = %e, "block cut failed");
                        }
                        if let Err(e) = me.apply_retention(now_ms()).await {
                            tracing::error!(error = %e, "retention failed");
                        }
                        if let Err(e) = me.compact().await {
                            tracing::error!(error = %e, "compaction failed");
                        }
                    }
                    _ = fsync.tick() => {
                        let m = me.clone();
                        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || m.sync_wal()).await {
                            tracing::error!(error = %e, "WAL fsync failed");
                        }
                        if tokio::time::Instant::now() >= next_checkpoint && me.checkpoint_due() {
                            let started = tokio::time::Instant::now();
                            if let Err(e) = me.checkpoint().await {
                                tracing::error!(error = %e, "head checkpoint failed");
                            }
                            next_checkpoint = tokio::time::Instant::now()
                                + started.elapsed() * CHECKPOINT_SPACING;
                        }
                    }
                }
            }
            if let Err(e) = me.cut_block().await {
                tracing::error!(error = %e, "final block cut failed");
            }
            let _ = me.sync_wal();
            me.lock().closed = true;
        })
    }
}
