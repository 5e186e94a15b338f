//! Write-ahead log segments and head checkpoints.
//!
//! * A WAL segment (`wal/<seq>.wal`) is a sequence of records, each `len u32 | crc32 u32 |
//!   body`, written with one `write(2)` per append. A body is a list of entries: `1 id key`
//!   declares a series id for this segment (so each segment is self-contained), `4 t` sets the
//!   record's base timestamp, `3 id dt value` is a sample at `base + dt` (zig-zag varint, so
//!   the samples of one scrape cost one byte of timestamp), `2 id t value` is the older
//!   absolute-timestamp form, still read.
//! * A checkpoint (`wal/<seq>.ckpt`) is the compressed head as it was when segment `seq` was
//!   closed: per series its key and its [`StreamChunk`] bits, CRC-checked. It replaces the
//!   segments `<= seq`, which are then deleted; the background task writes one whenever the WAL
//!   since the last one outgrows half the compressed head, so the open hour on disk stays
//!   within about 1.5 times its compressed size instead of 12-17 bytes a sample.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Core;
use super::block::{get_key, get_u64, put_key, sync_dir};
use crate::codec::stream::StreamChunk;
use crate::codec::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::{SeriesKey, TsdbError};

const CKPT_MAGIC: &[u8; 4] = b"WFC1";

pub(super) struct Wal {
    pub(super) seq: u64,
    file: File,
    /// Handle used by the fsync task outside the writer lock.
    pub(super) sync: Arc<File>,
    declared: Vec<bool>,
    buf: Vec<u8>,
    /// Bytes written to this segment.
    pub(super) bytes: u64,
}

impl Wal {
    pub(super) fn create(dir: &Path, seq: u64) -> Result<Self, TsdbError> {
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
            bytes: 0,
        })
    }

    /// Writes one record holding `samples` (series id, timestamp, value); `key` gives the
    /// key of a series id not yet declared in this segment.
    pub(super) fn write(
        &mut self,
        samples: &[(u32, i64, f64)],
        key: impl Fn(u32) -> Arc<SeriesKey>,
    ) -> std::io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&[0u8; 8]);
        let base = samples.first().map_or(0, |s| s.1);
        buf.push(4);
        put_varint(&mut buf, base);
        for &(sid, t, v) in samples {
            let i = sid as usize;
            if self.declared.len() <= i {
                self.declared.resize(i + 1, false);
            }
            if !self.declared[i] {
                self.declared[i] = true;
                buf.push(1);
                put_uvarint(&mut buf, u64::from(sid));
                put_key(&mut buf, &key(sid));
            }
            buf.push(3);
            put_uvarint(&mut buf, u64::from(sid));
            put_varint(&mut buf, t.wrapping_sub(base));
            buf.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        let len = (buf.len() - 8) as u32;
        let crc = crc32fast::hash(&buf[8..]);
        buf[0..4].copy_from_slice(&len.to_le_bytes());
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        let res = self.file.write_all(&buf);
        self.bytes += buf.len() as u64;
        // keep a small buffer for the next record; drop a large one (an import body)
        if buf.capacity() <= 1 << 16 {
            self.buf = buf;
        }
        res
    }
}

/// Files `<seq>.<ext>` in `dir`, sorted by seq; leftover temp files are removed.
pub(super) fn seq_files(dir: &Path, ext: &str) -> Result<Vec<(u64, PathBuf)>, TsdbError> {
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

/// Replays one WAL segment into the core; stops at the first torn or corrupt record.
pub(super) fn replay_wal(path: &Path, core: &mut Core) -> Result<usize, TsdbError> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut pos = 0;
    let mut local: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
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
        let mut base = 0i64;
        while p < rec.len() {
            let tag = rec[p];
            p += 1;
            let ok = (|| -> Option<()> {
                match tag {
                    1 => {
                        let id = get_uvarint(rec, &mut p).ok()?;
                        let key = get_key(rec, &mut p)?;
                        local.insert(id, core.sid(key));
                    }
                    4 => base = get_varint(rec, &mut p).ok()?,
                    2 | 3 => {
                        let id = get_uvarint(rec, &mut p).ok()?;
                        let mut ts = get_varint(rec, &mut p).ok()?;
                        if tag == 3 {
                            ts = ts.wrapping_add(base);
                        }
                        let v = f64::from_bits(get_u64(rec, &mut p)?);
                        let sid = *local.get(&id)?;
                        core.push(sid, ts, v);
                        n += 1;
                    }
                    _ => return None,
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

/// What a checkpoint holds: the head after WAL segments `lo..=seq`.
pub(super) struct Checkpoint {
    pub(super) lo: u64,
    pub(super) seq: u64,
    pub(super) series: Vec<(Arc<SeriesKey>, StreamChunk)>,
}

/// Writes `wal/<seq>.ckpt` atomically (temp file, fsync, rename, fsync directory); returns
/// its size.
pub(super) fn write_checkpoint(dir: &Path, c: &Checkpoint) -> Result<u64, TsdbError> {
    let mut body = Vec::with_capacity(
        64 + c
            .series
            .iter()
            .map(|(_, s)| s.parts().0.len() + 64)
            .sum::<usize>(),
    );
    body.extend_from_slice(CKPT_MAGIC);
    body.extend_from_slice(&c.lo.to_le_bytes());
    body.extend_from_slice(&c.seq.to_le_bytes());
    put_uvarint(&mut body, c.series.len() as u64);
    for (key, chunk) in &c.series {
        let (bits, last, n) = chunk.parts();
        put_key(&mut body, key);
        put_uvarint(&mut body, u64::from(n));
        body.push(last);
        put_uvarint(&mut body, bits.len() as u64);
        body.extend_from_slice(bits);
    }
    let crc = crc32fast::hash(&body[4..]);
    body.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join(format!("{:020}.ckpt.tmp", c.seq));
    let mut f = File::create(&tmp)?;
    f.write_all(&body)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(format!("{:020}.ckpt", c.seq)))?;
    sync_dir(dir)?;
    Ok(body.len() as u64)
}

/// Reads a checkpoint written by [`write_checkpoint`].
pub(super) fn read_checkpoint(path: &Path) -> Result<Checkpoint, TsdbError> {
    let corrupt = |reason: &str| TsdbError::Corrupt {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    if data.len() < 24 || &data[..4] != CKPT_MAGIC {
        return Err(corrupt("bad checkpoint header"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    if crc32fast::hash(&body[4..]).to_le_bytes() != crc {
        return Err(corrupt("checkpoint checksum"));
    }
    let mut p = 4;
    let parse = |p: &mut usize| -> Option<Checkpoint> {
        let lo = get_u64(body, p)?;
        let seq = get_u64(body, p)?;
        let count = get_uvarint(body, p).ok()?;
        let mut series = Vec::with_capacity(count.min(1 << 20) as usize);
        for _ in 0..count {
            let key = get_key(body, p)?;
            let n = u32::try_from(get_uvarint(body, p).ok()?).ok()?;
            let last = *body.get(*p)?;
            *p += 1;
            let len = usize::try_from(get_uvarint(body, p).ok()?).ok()?;
            let bits = body.get(*p..p.checked_add(len)?)?.to_vec();
            *p += len;
            let chunk = StreamChunk::restore(bits, last, n).ok()?;
            series.push((Arc::new(key), chunk));
        }
        Some(Checkpoint { lo, seq, series })
    };
    parse(&mut p).ok_or_else(|| corrupt("bad checkpoint entry"))
}
