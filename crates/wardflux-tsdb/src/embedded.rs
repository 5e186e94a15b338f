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

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::codec::{self, get_uvarint, get_varint, put_uvarint, put_varint};
use crate::{
    Aggregation, EmbeddedConfig, LabelMatcher, Labels, Latest, MetricSink, MetricStore, RangeQuery,
    Sample, SeriesKey, SeriesPoints, SinkError, TsdbError, matches_all, now_ms,
};

/// Rollup bucket width.
pub const ROLLUP_MS: i64 = 300_000;
const BLOCK_MAGIC: &[u8; 4] = b"WFB1";
const FOOTER_LEN: usize = 8 + 8 + 8 + 8 + 4 + 4 + 4;

/// Per-bucket rollup: min, max, sum, count, last.
type Roll = [f64; 5];
/// Rollup buckets of one series.
type SeriesRolls = (SeriesKey, Vec<(i64, Roll)>);

struct Wal {
    seq: u64,
    file: File,
    /// Handle used by the fsync task outside the writer lock.
    sync: Arc<File>,
    declared: Vec<bool>,
    buf: Vec<u8>,
}

impl Wal {
    fn create(dir: &Path, seq: u64) -> Result<Self, TsdbError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{seq:020}.wal")))?;
        let sync = Arc::new(file.try_clone()?);
        sync_dir(dir)?;
        Ok(Self {
            seq,
            file,
            sync,
            declared: Vec::new(),
            buf: Vec::new(),
        })
    }
}

struct Frozen {
    /// WAL segments `lo..=seq` hold exactly this data.
    lo: u64,
    seq: u64,
    data: Vec<Vec<(i64, f64)>>,
}

/// Writer state. Series map, head and WAL change together under one std mutex so a block cut
/// sees a consistent (head, WAL segment) pair; no await happens while it is held.
struct Core {
    series: Vec<SeriesKey>,
    by_key: HashMap<SeriesKey, u32>,
    /// Series ids by metric name (most selectors name their metric).
    by_name: HashMap<String, Vec<u32>>,
    head: Vec<Vec<(i64, f64)>>,
    head_len: usize,
    frozen: Vec<Arc<Frozen>>,
    wal: Wal,
    /// Lowest WAL segment whose samples are in the head (replayed segments included).
    head_lo: u64,
    closed: bool,
}

impl Core {
    fn sid(&mut self, key: SeriesKey) -> u32 {
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let id = self.series.len() as u32;
        self.by_name.entry(key.metric.clone()).or_default().push(id);
        self.series.push(key.clone());
        self.by_key.insert(key, id);
        self.head.push(Vec::new());
        id
    }
}

struct Entry {
    min_t: i64,
    max_t: i64,
    raw: Option<(u64, u32)>,
    roll: (u64, u32),
}

struct Block {
    path: PathBuf,
    /// Lowest WAL sequence number covered (== `seq` unless compacted).
    lo: u64,
    /// Highest WAL sequence number covered.
    seq: u64,
    min_t: i64,
    max_t: i64,
    has_raw: bool,
    file: File,
    entries: HashMap<u32, Entry>,
}

impl Block {
    /// The entry's rollup buckets: its rollup chunk, or computed from its raw chunk.
    fn rolls(&self, e: &Entry) -> Result<Vec<(i64, Roll)>, TsdbError> {
        if e.roll.1 == 0 {
            return match e.raw {
                Some(r) => {
                    let (ts, c) = self.read_chunk(r, 1)?;
                    let pts: Vec<(i64, f64)> = ts
                        .into_iter()
                        .zip(c.into_iter().next().unwrap_or_default())
                        .collect();
                    Ok(rollup(&pts))
                }
                None => Ok(Vec::new()),
            };
        }
        let (ts, c) = self.read_chunk(e.roll, 5)?;
        Ok(ts
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, [c[0][i], c[1][i], c[2][i], c[3][i], c[4][i]]))
            .collect())
    }

    fn read_chunk(
        &self,
        (off, len): (u64, u32),
        ncols: usize,
    ) -> Result<(Vec<i64>, Vec<Vec<f64>>), TsdbError> {
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(&mut buf, off)?;
        codec::decode(&buf, ncols).map_err(|e| TsdbError::Corrupt {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

/// The embedded store. Cheap to share: wrap in `Arc` (as [`crate::open`] does).
pub struct EmbeddedStore {
    cfg: EmbeddedConfig,
    core: Mutex<Core>,
    /// Copy-on-write list of blocks sorted by seq; readers clone the `Arc` and read without locks.
    blocks: RwLock<Arc<Vec<Arc<Block>>>>,
    /// Serialises block cuts and retention runs.
    maint: tokio::sync::Mutex<()>,
    /// Set by appends, cleared by the fsync task.
    dirty: AtomicBool,
}

fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn seq_files(dir: &Path, ext: &str) -> Result<Vec<(u64, PathBuf)>, TsdbError> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().and_then(|x| x.to_str()) == Some(ext)
            && let Some(seq) = p
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
        {
            v.push((seq, p));
        } else if p.extension().and_then(|x| x.to_str()) == Some("tmp") {
            let _ = fs::remove_file(&p);
        }
    }
    v.sort();
    Ok(v)
}

fn put_key(buf: &mut Vec<u8>, key: &SeriesKey) {
    put_str(buf, &key.metric);
    put_uvarint(buf, key.labels.len() as u64);
    for (k, v) in key.labels.iter() {
        put_str(buf, k);
        put_str(buf, v);
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn get_str(buf: &[u8], pos: &mut usize) -> Option<String> {
    let n = usize::try_from(get_uvarint(buf, pos).ok()?).ok()?;
    let s = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    String::from_utf8(s.to_vec()).ok()
}

fn get_key(buf: &[u8], pos: &mut usize) -> Option<SeriesKey> {
    let metric = get_str(buf, pos)?;
    let n = get_uvarint(buf, pos).ok()?;
    let mut labels = Labels::new();
    for _ in 0..n {
        let k = get_str(buf, pos)?;
        let v = get_str(buf, pos)?;
        labels.insert(k, v);
    }
    Some(SeriesKey { metric, labels })
}

fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let b = buf.get(*pos..*pos + 8)?;
    *pos += 8;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// Sorts by time and keeps the last written value of equal timestamps.
fn sort_dedup(v: &mut Vec<(i64, f64)>) {
    if !v.windows(2).all(|w| w[0].0 < w[1].0) {
        // stable sort keeps write order among equal timestamps; keep the last one
        v.sort_by_key(|p| p.0);
        let mut out: Vec<(i64, f64)> = Vec::with_capacity(v.len());
        for &p in v.iter() {
            match out.last_mut() {
                Some(l) if l.0 == p.0 => *l = p,
                _ => out.push(p),
            }
        }
        *v = out;
    }
}

fn bucket_end(ts: i64) -> i64 {
    (ts + ROLLUP_MS - 1).div_euclid(ROLLUP_MS) * ROLLUP_MS
}

fn rollup(samples: &[(i64, f64)]) -> Vec<(i64, Roll)> {
    let mut out: Vec<(i64, Roll)> = Vec::new();
    for &(t, v) in samples {
        let e = bucket_end(t);
        match out.last_mut() {
            Some((le, r)) if *le == e => {
                r[0] = r[0].min(v);
                r[1] = r[1].max(v);
                r[2] += v;
                r[3] += 1.0;
                r[4] = v;
            }
            _ => out.push((e, [v, v, v, 1.0, v])),
        }
    }
    out
}

fn merge_roll(a: &mut Roll, b: &Roll) {
    a[0] = a[0].min(b[0]);
    a[1] = a[1].max(b[1]);
    a[2] += b[2];
    a[3] += b[3];
    a[4] = b[4];
}

/// File stem of a block covering WAL sequence numbers `lo..=hi` (`lo == hi` for a block cut
/// from one WAL segment, a range for a compacted block).
fn block_name(lo: u64, hi: u64) -> String {
    if lo == hi {
        format!("{hi:020}")
    } else {
        format!("{lo:020}-{hi:020}")
    }
}

/// Block files as (lo, hi, path), sorted by hi; leftover temp files are removed.
fn block_files(dir: &Path) -> Result<Vec<(u64, u64, PathBuf)>, TsdbError> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        let ext = p.extension().and_then(|x| x.to_str());
        if ext == Some("tmp") {
            let _ = fs::remove_file(&p);
            continue;
        }
        if ext != Some("blk") {
            continue;
        }
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let parsed = match stem.split_once('-') {
            Some((a, b)) => a.parse().ok().zip(b.parse().ok()),
            None => stem.parse().ok().map(|x| (x, x)),
        };
        if let Some((lo, hi)) = parsed {
            v.push((lo, hi, p));
        }
    }
    v.sort_by_key(|x| (x.1, x.0));
    Ok(v)
}

/// Streams one block file: chunks are appended as series are added, the index and footer
/// at [`finish`](Self::finish); the file appears under its final name atomically.
struct BlockWriter {
    out: std::io::BufWriter<File>,
    dir: PathBuf,
    name: String,
    seq: u64,
    has_raw: bool,
    /// Store rollup chunks next to raw chunks (otherwise computed from raw when needed).
    with_rollups: bool,
    off: u64,
    index: Vec<u8>,
    count: u64,
    bmin: i64,
    bmax: i64,
}

impl BlockWriter {
    fn create(
        dir: &Path,
        name: &str,
        seq: u64,
        has_raw: bool,
        with_rollups: bool,
    ) -> Result<Self, TsdbError> {
        let f = File::create(dir.join(format!("{name}.tmp")))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
        out.write_all(BLOCK_MAGIC)?;
        Ok(Self {
            out,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            seq,
            has_raw,
            with_rollups,
            off: BLOCK_MAGIC.len() as u64,
            index: Vec::new(),
            count: 0,
            bmin: i64::MAX,
            bmax: i64::MIN,
        })
    }

    fn chunk(&mut self, c: &[u8]) -> Result<(u64, u64), TsdbError> {
        let off = self.off;
        self.out.write_all(c)?;
        self.off += c.len() as u64;
        Ok((off, c.len() as u64))
    }

    /// Adds a series' raw samples (sorted, deduplicated), with their rollups if configured.
    fn add_raw(&mut self, key: &SeriesKey, s: &[(i64, f64)]) -> Result<(), TsdbError> {
        if s.is_empty() {
            return Ok(());
        }
        let r = if self.with_rollups {
            rollup(s)
        } else {
            Vec::new()
        };
        self.add(key, Some(s), &r, s[0].0, s[s.len() - 1].0)
    }

    /// Adds a series' rollups only.
    fn add_rolls(&mut self, key: &SeriesKey, r: &[(i64, Roll)]) -> Result<(), TsdbError> {
        if r.is_empty() {
            return Ok(());
        }
        self.add(key, None, r, r[0].0 - ROLLUP_MS + 1, r[r.len() - 1].0)
    }

    fn add(
        &mut self,
        key: &SeriesKey,
        raw: Option<&[(i64, f64)]>,
        roll: &[(i64, Roll)],
        min_t: i64,
        max_t: i64,
    ) -> Result<(), TsdbError> {
        let mut idx = std::mem::take(&mut self.index);
        put_key(&mut idx, key);
        put_varint(&mut idx, min_t);
        put_varint(&mut idx, max_t);
        if let Some(raw) = raw {
            let ts: Vec<i64> = raw.iter().map(|p| p.0).collect();
            let vs: Vec<f64> = raw.iter().map(|p| p.1).collect();
            let (off, len) = self.chunk(&codec::encode(&ts, &[&vs]))?;
            put_uvarint(&mut idx, 1);
            put_uvarint(&mut idx, off);
            put_uvarint(&mut idx, len);
        } else {
            put_uvarint(&mut idx, 0);
        }
        // (0, 0): no rollup chunk (an encoded chunk is never empty)
        let (off, len) = if roll.is_empty() {
            (0, 0)
        } else {
            let ts: Vec<i64> = roll.iter().map(|p| p.0).collect();
            let cols: Vec<Vec<f64>> = (0..5)
                .map(|i| roll.iter().map(|p| p.1[i]).collect())
                .collect();
            let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            self.chunk(&codec::encode(&ts, &refs))?
        };
        put_uvarint(&mut idx, off);
        put_uvarint(&mut idx, len);
        self.index = idx;
        self.count += 1;
        self.bmin = self.bmin.min(min_t);
        self.bmax = self.bmax.max(max_t);
        Ok(())
    }

    /// Writes index and footer, fsyncs, renames into place, fsyncs the directory.
    fn finish(mut self) -> Result<PathBuf, TsdbError> {
        let index_off = self.off;
        let crc = crc32fast::hash(&self.index);
        let mut foot = Vec::with_capacity(self.index.len() + FOOTER_LEN + 4);
        foot.extend_from_slice(&self.index);
        foot.extend_from_slice(&self.seq.to_le_bytes());
        foot.extend_from_slice(&self.bmin.to_le_bytes());
        foot.extend_from_slice(&self.bmax.to_le_bytes());
        foot.extend_from_slice(&index_off.to_le_bytes());
        foot.extend_from_slice(&(self.index.len() as u32).to_le_bytes());
        foot.extend_from_slice(&crc.to_le_bytes());
        let flags =
            u32::from(self.has_raw) | ((self.count.min(u64::from(u32::MAX >> 1)) as u32) << 1);
        foot.extend_from_slice(&flags.to_le_bytes());
        foot.extend_from_slice(BLOCK_MAGIC);
        self.out.write_all(&foot)?;
        let f = self
            .out
            .into_inner()
            .map_err(|e| TsdbError::Io(e.into_error()))?;
        f.sync_all()?;
        drop(f);
        let path = self.dir.join(format!("{}.blk", self.name));
        fs::rename(self.dir.join(format!("{}.tmp", self.name)), &path)?;
        sync_dir(&self.dir)?;
        Ok(path)
    }
}

/// Writes a block file atomically. `series` is sorted/deduplicated samples per key; with
/// `rolls`, a rollup-only block is written instead.
fn write_block(
    dir: &Path,
    name: &str,
    seq: u64,
    series: &[(SeriesKey, Vec<(i64, f64)>)],
    rolls: Option<&[SeriesRolls]>,
    with_rollups: bool,
) -> Result<PathBuf, TsdbError> {
    let mut w = BlockWriter::create(dir, name, seq, rolls.is_none(), with_rollups)?;
    match rolls {
        None => {
            for (key, s) in series {
                w.add_raw(key, s)?;
            }
        }
        Some(rolls) => {
            for (key, r) in rolls {
                w.add_rolls(key, r)?;
            }
        }
    }
    w.finish()
}

/// Reads a block's footer and index; `resolve` maps series keys to ids.
fn load_block(
    path: &Path,
    lo: u64,
    resolve: &mut dyn FnMut(SeriesKey) -> u32,
) -> Result<Block, TsdbError> {
    let corrupt = |r: &str| TsdbError::Corrupt {
        path: path.display().to_string(),
        reason: r.to_string(),
    };
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < (FOOTER_LEN + 8) as u64 {
        return Err(corrupt("too short"));
    }
    let mut foot = vec![0u8; FOOTER_LEN + 4];
    let flen = foot.len() as u64;
    file.read_exact_at(&mut foot, len - flen)?;
    if &foot[FOOTER_LEN..] != BLOCK_MAGIC {
        return Err(corrupt("bad magic"));
    }
    let mut p = 0;
    let rd = |p: &mut usize, n: usize| -> u64 {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&foot[*p..*p + n]);
        *p += n;
        u64::from_le_bytes(b)
    };
    let seq = rd(&mut p, 8);
    let min_t = rd(&mut p, 8) as i64;
    let max_t = rd(&mut p, 8) as i64;
    let index_off = rd(&mut p, 8);
    let index_len = rd(&mut p, 4);
    let crc = rd(&mut p, 4) as u32;
    let flags = rd(&mut p, 4);
    if index_off + index_len > len {
        return Err(corrupt("index out of range"));
    }
    let mut index = vec![0u8; index_len as usize];
    file.read_exact_at(&mut index, index_off)?;
    if crc32fast::hash(&index) != crc {
        return Err(corrupt("index checksum"));
    }
    let mut entries = HashMap::new();
    let mut pos = 0;
    let bad = || corrupt("bad index");
    while pos < index.len() {
        let key = get_key(&index, &mut pos).ok_or_else(bad)?;
        let e_min = get_varint(&index, &mut pos).map_err(|_| bad())?;
        let e_max = get_varint(&index, &mut pos).map_err(|_| bad())?;
        let raw = if get_uvarint(&index, &mut pos).map_err(|_| bad())? == 1 {
            let o = get_uvarint(&index, &mut pos).map_err(|_| bad())?;
            let l = get_uvarint(&index, &mut pos).map_err(|_| bad())?;
            Some((o, l as u32))
        } else {
            None
        };
        let o = get_uvarint(&index, &mut pos).map_err(|_| bad())?;
        let l = get_uvarint(&index, &mut pos).map_err(|_| bad())?;
        let in_range = |o: u64, l: u64| o + l <= index_off;
        if !in_range(o, l) || raw.is_some_and(|(ro, rl)| !in_range(ro, u64::from(rl))) {
            return Err(bad());
        }
        entries.insert(
            resolve(key),
            Entry {
                min_t: e_min,
                max_t: e_max,
                raw,
                roll: (o, l as u32),
            },
        );
    }
    Ok(Block {
        path: path.to_path_buf(),
        lo,
        seq,
        min_t,
        max_t,
        has_raw: flags & 1 == 1,
        file,
        entries,
    })
}

/// Replays one WAL segment into the core; stops at the first torn or corrupt record.
fn replay_wal(path: &Path, core: &mut Core) -> Result<usize, TsdbError> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut pos = 0;
    let mut local: HashMap<u64, u32> = HashMap::new();
    let mut n = 0;
    while pos + 8 <= data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap_or_default());
        let Some(rec) = data.get(pos + 8..pos + 8 + len) else {
            tracing::warn!(path = %path.display(), "torn WAL tail ignored");
            break;
        };
        if crc32fast::hash(rec) != crc {
            tracing::warn!(path = %path.display(), "corrupt WAL record, rest of segment ignored");
            break;
        }
        pos += 8 + len;
        let mut p = 0;
        while p < rec.len() {
            let tag = rec[p];
            p += 1;
            let ok = (|| -> Option<()> {
                if tag == 1 {
                    let id = get_uvarint(rec, &mut p).ok()?;
                    let key = get_key(rec, &mut p)?;
                    local.insert(id, core.sid(key));
                } else {
                    let id = get_uvarint(rec, &mut p).ok()?;
                    let ts = get_varint(rec, &mut p).ok()?;
                    let v = f64::from_bits(get_u64(rec, &mut p)?);
                    let sid = *local.get(&id)?;
                    core.head[sid as usize].push((ts, v));
                    core.head_len += 1;
                    n += 1;
                }
                Some(())
            })();
            if ok.is_none() {
                return Err(TsdbError::Corrupt {
                    path: path.display().to_string(),
                    reason: "bad WAL record".into(),
                });
            }
        }
    }
    Ok(n)
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `cfg.dir`: loads the blocks, replays the WAL.
    pub async fn open(cfg: EmbeddedConfig) -> Result<Arc<Self>, TsdbError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(cfg))
            .await
            .map_err(|e| TsdbError::Backend(e.to_string()))?
    }

    fn open_blocking(cfg: EmbeddedConfig) -> Result<Arc<Self>, TsdbError> {
        let wal_dir = cfg.dir.join("wal");
        let blk_dir = cfg.dir.join("blocks");
        fs::create_dir_all(&wal_dir)?;
        fs::create_dir_all(&blk_dir)?;
        let mut series: Vec<SeriesKey> = Vec::new();
        let mut by_key: HashMap<SeriesKey, u32> = HashMap::new();
        let mut blocks = Vec::new();
        let mut max_seq = 0;
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
        let ranges: Vec<(u64, u64)> = live.iter().map(|x| (x.0, x.1)).collect();
        for (lo, _, path) in live {
            let mut resolve = |k: SeriesKey| {
                if let Some(&id) = by_key.get(&k) {
                    return id;
                }
                series.push(k.clone());
                by_key.insert(k, series.len() as u32 - 1);
                series.len() as u32 - 1
            };
            let b = load_block(&path, lo, &mut resolve)?;
            max_seq = max_seq.max(b.seq);
            blocks.push(Arc::new(b));
        }
        let wals = seq_files(&wal_dir, "wal")?;
        for (seq, _) in &wals {
            max_seq = max_seq.max(*seq);
        }
        let head = vec![Vec::new(); series.len()];
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, k) in series.iter().enumerate() {
            by_name.entry(k.metric.clone()).or_default().push(i as u32);
        }
        let wal = Wal::create(&wal_dir, max_seq + 1)?;
        let mut core = Core {
            series,
            by_key,
            by_name,
            head,
            head_len: 0,
            frozen: Vec::new(),
            head_lo: max_seq + 1,
            wal,
            closed: false,
        };
        for (seq, path) in wals {
            if ranges.iter().any(|&(lo, hi)| lo <= seq && seq <= hi) {
                // already in a block (a crash came between the block write and this delete)
                fs::remove_file(&path)?;
            } else {
                core.head_lo = core.head_lo.min(seq);
                let n = replay_wal(&path, &mut core)?;
                tracing::info!(path = %path.display(), samples = n, "WAL replayed");
            }
        }
        Ok(Arc::new(Self {
            cfg,
            core: Mutex::new(core),
            blocks: RwLock::new(Arc::new(blocks)),
            maint: tokio::sync::Mutex::new(()),
            dirty: AtomicBool::new(false),
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

    /// Appends synchronously (what [`MetricStore::append`] does; usable from blocking code).
    pub fn append_sync(&self, batch: Vec<Sample>) -> Result<(), TsdbError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut guard = self.lock();
        let core = &mut *guard;
        if core.closed {
            return Err(TsdbError::Closed);
        }
        let mut buf = std::mem::take(&mut core.wal.buf);
        buf.clear();
        buf.extend_from_slice(&[0u8; 8]);
        let mut staged: Vec<(u32, i64, f64)> = Vec::with_capacity(batch.len());
        for s in batch {
            let sid = core.sid(SeriesKey {
                metric: s.metric,
                labels: s.labels,
            });
            let i = sid as usize;
            if core.wal.declared.len() <= i {
                core.wal.declared.resize(i + 1, false);
            }
            if !core.wal.declared[i] {
                core.wal.declared[i] = true;
                buf.push(1);
                put_uvarint(&mut buf, u64::from(sid));
                put_key(&mut buf, &core.series[i]);
            }
            buf.push(2);
            put_uvarint(&mut buf, u64::from(sid));
            put_varint(&mut buf, s.timestamp_ms);
            buf.extend_from_slice(&s.value.to_bits().to_le_bytes());
            staged.push((sid, s.timestamp_ms, s.value));
        }
        let len = (buf.len() - 8) as u32;
        let crc = crc32fast::hash(&buf[8..]);
        buf[0..4].copy_from_slice(&len.to_le_bytes());
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        let res = core.wal.file.write_all(&buf);
        core.wal.buf = buf;
        if let Err(e) = res {
            // the record may be half written: start a fresh segment so replay stays consistent
            let seq = core.wal.seq + 1;
            if let Ok(w) = Wal::create(&self.cfg.dir.join("wal"), seq) {
                core.wal = w;
            }
            return Err(e.into());
        }
        core.head_len += staged.len();
        for (sid, t, v) in staged {
            core.head[sid as usize].push((t, v));
        }
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// fsyncs the WAL (the background task does this every `fsync_interval`).
    pub fn sync_wal(&self) -> Result<(), TsdbError> {
        if self.dirty.swap(false, Ordering::Relaxed) {
            let f = self.lock().wal.sync.clone();
            f.sync_data()?;
        }
        Ok(())
    }

    /// Writes the current head out as a block now (the background task does this every
    /// `block_interval`). Returns the number of samples written.
    pub async fn cut_block(&self) -> Result<usize, TsdbError> {
        let _m = self.maint.lock().await;
        let (frozen, keys) = {
            let mut core = self.lock();
            if core.head_len == 0 {
                return Ok(0);
            }
            let n = core.series.len();
            let data = std::mem::replace(&mut core.head, vec![Vec::new(); n]);
            core.head_len = 0;
            let seq = core.wal.seq;
            let new_wal = Wal::create(&self.cfg.dir.join("wal"), seq + 1)?;
            let old = std::mem::replace(&mut core.wal, new_wal);
            old.sync.sync_data()?;
            let lo = core.head_lo.min(seq);
            core.head_lo = seq + 1;
            let fr = Arc::new(Frozen { lo, seq, data });
            core.frozen.push(fr.clone());
            let keys: Vec<SeriesKey> = fr
                .data
                .iter()
                .enumerate()
                .filter(|(_, d)| !d.is_empty())
                .map(|(i, _)| core.series[i].clone())
                .collect();
            (fr, keys)
        };
        let dir = self.cfg.dir.clone();
        let with_rollups = self.cfg.precompute_rollups;
        let fr = frozen.clone();
        let (block, n) =
            tokio::task::spawn_blocking(move || -> Result<(Block, usize), TsdbError> {
                let mut series: Vec<(SeriesKey, Vec<(i64, f64)>)> = Vec::with_capacity(keys.len());
                let mut ids: HashMap<SeriesKey, u32> = HashMap::with_capacity(keys.len());
                let mut ki = keys.into_iter();
                let mut n = 0;
                for (sid, d) in fr.data.iter().enumerate() {
                    if d.is_empty() {
                        continue;
                    }
                    let mut d = d.clone();
                    sort_dedup(&mut d);
                    n += d.len();
                    let key = ki.next().unwrap_or_default();
                    ids.insert(key.clone(), sid as u32);
                    series.push((key, d));
                }
                let name = block_name(fr.lo, fr.seq);
                let path = write_block(
                    &dir.join("blocks"),
                    &name,
                    fr.seq,
                    &series,
                    None,
                    with_rollups,
                )?;
                let block = load_block(&path, fr.lo, &mut |k| {
                    ids.get(&k).copied().unwrap_or(u32::MAX)
                })?;
                Ok((block, n))
            })
            .await
            .map_err(|e| TsdbError::Backend(e.to_string()))??;
        {
            let mut w = self
                .blocks
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut v: Vec<Arc<Block>> = w.as_ref().clone();
            v.push(Arc::new(block));
            *w = Arc::new(v);
        }
        self.lock().frozen.retain(|f| !Arc::ptr_eq(f, &frozen));
        for (seq, p) in seq_files(&self.cfg.dir.join("wal"), "wal")? {
            if frozen.lo <= seq && seq <= frozen.seq {
                fs::remove_file(p)?;
            }
        }
        Ok(n)
    }

    /// Merges runs of at least `compact_blocks` consecutive uncompacted raw blocks (the
    /// hourly cuts) into one block, so the number of files stays small (about one per
    /// day). Crash-safe: the merged block `lo-hi.blk` appears atomically before the blocks
    /// it replaces are deleted, and [`open`](Self::open) deletes blocks inside a merged
    /// range. Returns the number of blocks merged away.
    pub async fn compact(&self) -> Result<usize, TsdbError> {
        let _m = self.maint.lock().await;
        let min = self.cfg.compact_blocks.max(2);
        let blocks = self.blocks();
        let mut groups: Vec<Vec<Arc<Block>>> = Vec::new();
        let mut run: Vec<Arc<Block>> = Vec::new();
        for b in blocks.iter() {
            if b.has_raw && b.lo == b.seq {
                run.push(b.clone());
                if run.len() == min {
                    groups.push(std::mem::take(&mut run));
                }
            } else {
                run.clear();
            }
        }
        let mut merged = 0;
        for group in groups {
            let mut sids: Vec<u32> = group
                .iter()
                .flat_map(|b| b.entries.keys().copied())
                .collect();
            sids.sort_unstable();
            sids.dedup();
            let keys: Vec<SeriesKey> = {
                let core = self.lock();
                sids.iter()
                    .map(|&s| core.series[s as usize].clone())
                    .collect()
            };
            let g = group.clone();
            let dir = self.cfg.dir.join("blocks");
            let with_rollups = self.cfg.precompute_rollups;
            let block = tokio::task::spawn_blocking(move || -> Result<Block, TsdbError> {
                let (lo, hi) = (g[0].lo, g[g.len() - 1].seq);
                let mut w = BlockWriter::create(&dir, &block_name(lo, hi), hi, true, with_rollups)?;
                let mut ids = HashMap::with_capacity(sids.len());
                for (sid, key) in sids.iter().zip(keys) {
                    let mut pts: Vec<(i64, f64)> = Vec::new();
                    for b in &g {
                        if let Some(e) = b.entries.get(sid)
                            && let Some(r) = e.raw
                        {
                            let (ts, cols) = b.read_chunk(r, 1)?;
                            pts.extend(
                                ts.into_iter()
                                    .zip(cols.into_iter().next().unwrap_or_default()),
                            );
                        }
                    }
                    sort_dedup(&mut pts);
                    w.add_raw(&key, &pts)?;
                    ids.insert(key, *sid);
                }
                let path = w.finish()?;
                load_block(&path, lo, &mut |k| ids.get(&k).copied().unwrap_or(u32::MAX))
            })
            .await
            .map_err(|e| TsdbError::Backend(e.to_string()))??;
            {
                let mut w = self
                    .blocks
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut v: Vec<Arc<Block>> = w
                    .iter()
                    .filter(|b| !group.iter().any(|g| Arc::ptr_eq(g, b)))
                    .cloned()
                    .collect();
                v.push(Arc::new(block));
                v.sort_by_key(|b| b.seq);
                *w = Arc::new(v);
            }
            for b in &group {
                fs::remove_file(&b.path)?;
            }
            sync_dir(&self.cfg.dir.join("blocks"))?;
            merged += group.len();
        }
        Ok(merged)
    }

    /// Applies retention as of `now_ms`: drops raw chunks of blocks older than raw retention,
    /// deletes blocks older than rollup retention. Returns (blocks rewritten, blocks deleted).
    pub async fn apply_retention(&self, now_ms: i64) -> Result<(usize, usize), TsdbError> {
        let _m = self.maint.lock().await;
        let raw_cut = now_ms - self.cfg.raw_retention.as_millis() as i64;
        let roll_cut = now_ms - self.cfg.rollup_retention.as_millis() as i64;
        let blocks = self.blocks();
        let (mut rewritten, mut deleted) = (0, 0);
        let mut out: Vec<Arc<Block>> = Vec::with_capacity(blocks.len());
        for b in blocks.iter() {
            if b.max_t < roll_cut {
                fs::remove_file(&b.path)?;
                deleted += 1;
            } else if b.has_raw && b.max_t < raw_cut {
                let keys: HashMap<u32, SeriesKey> = {
                    let core = self.lock();
                    b.entries
                        .keys()
                        .map(|&s| (s, core.series[s as usize].clone()))
                        .collect()
                };
                let b2 = b.clone();
                let nb = tokio::task::spawn_blocking(move || -> Result<Block, TsdbError> {
                    let mut rolls = Vec::new();
                    let mut ids = HashMap::new();
                    for (sid, e) in &b2.entries {
                        let r = b2.rolls(e)?;
                        let key = keys.get(sid).cloned().unwrap_or_default();
                        ids.insert(key.clone(), *sid);
                        rolls.push((key, r));
                    }
                    let dir = b2.path.parent().map(Path::to_path_buf).unwrap_or_default();
                    let name = block_name(b2.lo, b2.seq);
                    let path = write_block(&dir, &name, b2.seq, &[], Some(&rolls), true)?;
                    load_block(&path, b2.lo, &mut |k| {
                        ids.get(&k).copied().unwrap_or(u32::MAX)
                    })
                })
                .await
                .map_err(|e| TsdbError::Backend(e.to_string()))??;
                out.push(Arc::new(nb));
                rewritten += 1;
            } else {
                out.push(b.clone());
            }
        }
        *self
            .blocks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(out);
        Ok((rewritten, deleted))
    }

    /// Starts the background task: WAL fsync every `fsync_interval`, block cut and retention
    /// every `block_interval`; on cancellation a last fsync and block cut.
    pub fn spawn_background(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut fsync = tokio::time::interval(me.cfg.fsync_interval);
            let mut cut = tokio::time::interval(me.cfg.block_interval);
            cut.tick().await;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = fsync.tick() => {
                        let m = me.clone();
                        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || m.sync_wal()).await {
                            tracing::error!(error = %e, "WAL fsync failed");
                        }
                    }
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
                }
            }
            if let Err(e) = me.cut_block().await {
                tracing::error!(error = %e, "final block cut failed");
            }
            let _ = me.sync_wal();
            me.lock().closed = true;
        })
    }

    /// Matching series ids.
    fn select(&self, matchers: &[LabelMatcher]) -> Vec<(u32, SeriesKey)> {
        let core = self.lock();
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
                .map(|&i| (i, &core.series[i as usize]))
                .filter(|(_, k)| matches_all(matchers, k))
                .map(|(i, k)| (i, k.clone()))
                .collect(),
            None => core
                .series
                .iter()
                .enumerate()
                .filter(|(_, k)| matches_all(matchers, k))
                .map(|(i, k)| (i as u32, k.clone()))
                .collect(),
        };
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }

    /// In-memory samples (frozen heads, then head) of `sids` within `[start, end]`.
    fn mem_samples(&self, sids: &[(u32, SeriesKey)], start: i64, end: i64) -> Vec<Vec<(i64, f64)>> {
        let core = self.lock();
        sids.iter()
            .map(|(sid, _)| {
                let mut out = Vec::new();
                let i = *sid as usize;
                for f in &core.frozen {
                    if let Some(d) = f.data.get(i) {
                        out.extend(d.iter().filter(|p| p.0 >= start && p.0 <= end));
                    }
                }
                if let Some(d) = core.head.get(i) {
                    out.extend(d.iter().filter(|p| p.0 >= start && p.0 <= end));
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
        .await
        .map_err(|e| TsdbError::Backend(e.to_string()))?
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
        .await
        .map_err(|e| TsdbError::Backend(e.to_string()))?
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

/// Grid index of the point whose window `(t-step, t]` holds `ts` (t = start + k*step).
fn grid_k(ts: i64, start: i64, step: i64) -> i64 {
    (ts - start + step - 1).div_euclid(step)
}

fn finish(agg: Aggregation, r: &Roll) -> f64 {
    match agg {
        Aggregation::Avg => r[2] / r[3],
        Aggregation::Min => r[0],
        Aggregation::Max => r[1],
        Aggregation::Sum => r[2],
        Aggregation::Count => r[3],
        Aggregation::Last => r[4],
    }
}

fn to_grid(items: impl Iterator<Item = (i64, Roll)>, q: &RangeQuery) -> Vec<(i64, f64)> {
    let mut cur: Option<(i64, Roll)> = None;
    let mut out = Vec::new();
    for (t, r) in items {
        let k = grid_k(t, q.start_ms, q.step_ms);
        let gt = q.start_ms + k * q.step_ms;
        if k < 0 || gt > q.end_ms {
            continue;
        }
        match &mut cur {
            Some((ct, acc)) if *ct == gt => merge_roll(acc, &r),
            _ => {
                if let Some((ct, acc)) = cur.take() {
                    out.push((ct, finish(q.agg, &acc)));
                }
                cur = Some((gt, r));
            }
        }
    }
    if let Some((ct, acc)) = cur {
        out.push((ct, finish(q.agg, &acc)));
    }
    out
}

#[async_trait::async_trait]
impl MetricStore for EmbeddedStore {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), TsdbError> {
        self.append_sync(batch)
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
        let mem = self.mem_samples(&all, start_ms, end_ms);
        Ok(all
            .into_iter()
            .zip(mem)
            .filter(|((sid, _), m)| {
                !m.is_empty()
                    || blocks.iter().any(|b| {
                        b.entries
                            .get(sid)
                            .is_some_and(|e| e.max_t >= start_ms && e.min_t <= end_ms)
                    })
            })
            .map(|((_, k), _)| k)
            .collect())
    }

    async fn flush(&self) -> Result<(), TsdbError> {
        self.dirty.store(true, Ordering::Relaxed);
        self.sync_wal()
    }
}

#[async_trait::async_trait]
impl MetricSink for EmbeddedStore {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        self.append_sync(batch).map_err(SinkError::from)
    }
}
