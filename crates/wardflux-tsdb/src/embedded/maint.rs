use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::block::{BlockWriter, block_name, load_block, sync_dir, write_block};
use super::rollup::sort_dedup;
use super::wal::{Checkpoint, Wal, seq_files, write_checkpoint};
use super::{Block, EmbeddedStore, Frozen};
use crate::codec::stream::StreamChunk;
use crate::{SeriesKey, TsdbError};

impl EmbeddedStore {
    /// Writes the current head out as a block now (the background task does this every
    /// `block_interval`). Returns the number of samples written. The frozen head stays
    /// readable (compressed) until its block is in place; the block is written one series
    /// at a time, so the cut needs no uncompressed copy of the hour.
    pub async fn cut_block(&self) -> Result<usize, TsdbError> {
        let _m = self.maint.lock().await;
        let (frozen, keys) = {
            let mut core = self.lock();
            if core.head_len == 0 {
                return Ok(0);
            }
            let n = core.series.len();
            let data = std::mem::replace(&mut core.head, vec![StreamChunk::default(); n]);
            core.head_len = 0;
            core.wal_pending = 0;
            core.last_ckpt_bytes = 0;
            let seq = core.wal.seq;
            let new_wal = Wal::create(&self.cfg.dir.join("wal"), seq + 1)?;
            let old = std::mem::replace(&mut core.wal, new_wal);
            old.sync.sync_data()?;
            core.head_lo = seq + 1;
            let fr = Arc::new(Frozen { seq, data });
            core.frozen.push(fr.clone());
            let keys: Vec<Arc<SeriesKey>> = fr
                .data
                .iter()
                .enumerate()
                .filter(|(_, d)| !d.is_empty())
                .map(|(i, _)| core.series[i].clone())
                .collect();
            (fr, keys)
        };
        let dir = self.cfg.dir.join("blocks");
        let with_rollups = self.cfg.precompute_rollups;
        let fr = frozen.clone();
        let (block, n) =
            tokio::task::spawn_blocking(move || -> Result<(Block, usize), TsdbError> {
                // named after the last WAL segment only: a cut, not a compacted range
                let name = block_name(fr.seq, fr.seq);
                let mut w = BlockWriter::create(&dir, &name, fr.seq, true, with_rollups)?;
                let mut ids: HashMap<Arc<SeriesKey>, u32> = HashMap::with_capacity(keys.len());
                let mut ki = keys.into_iter();
                let mut n = 0;
                let mut pts = Vec::new();
                for (sid, d) in fr.data.iter().enumerate() {
                    if d.is_empty() {
                        continue;
                    }
                    pts.clear();
                    d.for_each(|t, v| pts.push((t, v)))
                        .map_err(|e| TsdbError::Corrupt {
                            path: "head".into(),
                            reason: e.to_string(),
                        })?;
                    sort_dedup(&mut pts);
                    n += pts.len();
                    let key = ki.next().unwrap_or_default();
                    w.add_raw(&key, &pts)?;
                    ids.insert(key, sid as u32);
                }
                let path = w.finish()?;
                let block = load_block(&path, fr.seq, &mut |k| {
                    ids.get(&k).copied().unwrap_or(u32::MAX)
                })?;
                Ok((block, n))
            })
            .await??;
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
        let wal_dir = self.cfg.dir.join("wal");
        for ext in ["wal", "ckpt"] {
            for (seq, p) in seq_files(&wal_dir, ext)? {
                if seq <= frozen.seq {
                    fs::remove_file(p)?;
                }
            }
        }
        Ok(n)
    }

    /// True when the WAL not yet replaced by a checkpoint outgrew a third of the last
    /// checkpoint (half the compressed head before the first one) and
    /// `checkpoint_min_wal_bytes`. Relative to the checkpoint, not the head, because the
    /// checkpoint's block chunks are smaller than the head's stream bits (2.6 against 4.3
    /// bytes a sample on random counters): the open hour on disk is the checkpoint plus the
    /// WAL since, so at most 1.33 times the checkpoint. The WAL counts the series keys a fresh
    /// segment declares again, as the checkpoint does.
    pub fn checkpoint_due(&self) -> bool {
        let core = self.lock();
        let allowed = if core.last_ckpt_bytes > 0 {
            core.last_ckpt_bytes as usize / 3
        } else {
            core.head_chunk_bytes() / 2
        };
        core.wal_pending > self.cfg.checkpoint_min_wal_bytes && core.wal_pending as usize > allowed
    }

    /// Writes the head as a checkpoint (block chunks, see `wal`) and deletes the WAL segments it replaces
    /// (the background task does this when [`checkpoint_due`](Self::checkpoint_due)).
    /// Returns the checkpoint's size in bytes (0 when the head is empty).
    pub async fn checkpoint(&self) -> Result<u64, TsdbError> {
        let _m = self.maint.lock().await;
        let ckpt = {
            let mut core = self.lock();
            if core.head_len == 0 {
                return Ok(0);
            }
            let seq = core.wal.seq;
            let new_wal = Wal::create(&self.cfg.dir.join("wal"), seq + 1)?;
            let old = std::mem::replace(&mut core.wal, new_wal);
            old.sync.sync_data()?;
            core.wal_pending = 0;
            let series = core
                .head
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_empty())
                .map(|(i, c)| (core.series[i].clone(), c.clone()))
                .collect();
            Checkpoint {
                lo: core.head_lo.min(seq),
                seq,
                series,
            }
        };
        let dir = self.cfg.dir.join("wal");
        let size = tokio::task::spawn_blocking(move || -> Result<u64, TsdbError> {
            let size = write_checkpoint(&dir, &ckpt)?;
            // the checkpoint replaces the segments up to its own and older checkpoints
            for (s, p) in seq_files(&dir, "wal")? {
                if s <= ckpt.seq {
                    fs::remove_file(p)?;
                }
            }
            for (s, p) in seq_files(&dir, "ckpt")? {
                if s < ckpt.seq {
                    fs::remove_file(p)?;
                }
            }
            Ok(size)
        })
        .await??;
        self.lock().last_ckpt_bytes = size;
        Ok(size)
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
                    .map(|&s| (*core.series[s as usize]).clone())
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
            .await??;
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
                        .map(|&s| (s, (*core.series[s as usize]).clone()))
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
                .await??;
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
}
