//! Immutable block files (`blocks/<seq>.blk`, compacted `blocks/<lo>-<hi>.blk`): per series a
//! raw chunk ([`crate::codec`]) and optionally a rollup chunk, then an index of series keys
//! with their chunk offsets and a CRC-checked footer. Written to a temp file, fsynced and
//! renamed, so a block is either complete or absent.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::rollup::{ROLLUP_MS, Roll, SeriesRolls, rollup};
use crate::codec::{self, get_uvarint, get_varint, put_uvarint, put_varint};
use crate::{Labels, SeriesKey, TsdbError};

const BLOCK_MAGIC: &[u8; 4] = b"WFB1";
const FOOTER_LEN: usize = 8 + 8 + 8 + 8 + 4 + 4 + 4;
pub(super) struct Entry {
    pub(super) min_t: i64,
    pub(super) max_t: i64,
    pub(super) raw: Option<(u64, u32)>,
    pub(super) roll: (u64, u32),
}

pub(super) struct Block {
    pub(super) path: PathBuf,
    /// Lowest WAL sequence number covered (== `seq` unless compacted).
    pub(super) lo: u64,
    /// Highest WAL sequence number covered.
    pub(super) seq: u64,
    pub(super) min_t: i64,
    pub(super) max_t: i64,
    pub(super) has_raw: bool,
    pub(super) file: File,
    pub(super) entries: HashMap<u32, Entry>,
}

impl Block {
    /// The entry's rollup buckets: its rollup chunk, or computed from its raw chunk.
    pub(super) fn rolls(&self, e: &Entry) -> Result<Vec<(i64, Roll)>, TsdbError> {
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

    pub(super) fn read_chunk(
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
pub(super) fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}
pub(super) fn put_key(buf: &mut Vec<u8>, key: &SeriesKey) {
    put_str(buf, &key.metric);
    put_uvarint(buf, key.labels.len() as u64);
    for (k, v) in key.labels.iter() {
        put_str(buf, k);
        put_str(buf, v);
    }
}

pub(super) fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

pub(super) fn get_str(buf: &[u8], pos: &mut usize) -> Option<String> {
    let n = usize::try_from(get_uvarint(buf, pos).ok()?).ok()?;
    let s = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    String::from_utf8(s.to_vec()).ok()
}

pub(super) fn get_key(buf: &[u8], pos: &mut usize) -> Option<SeriesKey> {
    let metric = get_str(buf, pos)?;
    let n = get_uvarint(buf, pos).ok()?;
    let mut labels = Labels::new();
    for _ in 0..n {
        let k = get_str(buf, pos)?;
        let v = get_str(buf, pos)?;
        labels.insert(k, v);
    }
    Some(SeriesKey {
        metric: metric.into(),
        labels,
    })
}

pub(super) fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let b = buf.get(*pos..*pos + 8)?;
    *pos += 8;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}
/// File stem of a block covering WAL sequence numbers `lo..=hi` (`lo == hi` for a block cut
/// from one WAL segment, a range for a compacted block).
pub(super) fn block_name(lo: u64, hi: u64) -> String {
    if lo == hi {
        format!("{hi:020}")
    } else {
        format!("{lo:020}-{hi:020}")
    }
}

/// Block files as (lo, hi, path), sorted by hi; leftover temp files are removed.
pub(super) fn block_files(dir: &Path) -> Result<Vec<(u64, u64, PathBuf)>, TsdbError> {
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
pub(super) struct BlockWriter {
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
    pub(super) fn create(
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
    pub(super) fn add_raw(&mut self, key: &SeriesKey, s: &[(i64, f64)]) -> Result<(), TsdbError> {
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
    pub(super) fn add_rolls(
        &mut self,
        key: &SeriesKey,
        r: &[(i64, Roll)],
    ) -> Result<(), TsdbError> {
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
    pub(super) fn finish(mut self) -> Result<PathBuf, TsdbError> {
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
pub(super) fn write_block(
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
pub(super) fn load_block(
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
