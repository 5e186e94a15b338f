//! The VictoriaMetrics backend's on-disk spool: batches as length+count+CRC framed records of
//! exposition text in segment files (`<seq>.spool`), one `write(2)` per batch, read back in
//! order from a cursor (`cursor`: segment and offset) that the delivery task advances.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::TsdbError;

const FRAME_HDR: usize = 12;
const MAX_POST: usize = 4 << 20;

struct SpoolWriter {
    file: File,
    seq: u64,
    size: u64,
}

/// The spool: appends from many tasks, reads from the one delivery task.
pub(super) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seg_max: u64,
    /// The current segment; appends serialise on this std mutex (one short `write(2)`, no
    /// await while held).
    writer: Mutex<SpoolWriter>,
    /// Bytes spooled and not yet delivered (compared with `max_bytes`).
    pending: AtomicU64,
}

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.spool"))
}

fn segments(dir: &Path) -> Result<Vec<u64>, TsdbError> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().and_then(|x| x.to_str()) == Some("spool")
            && let Some(s) = p
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
        {
            v.push(s);
        }
    }
    v.sort_unstable();
    Ok(v)
}

fn read_cursor(dir: &Path) -> Option<(u64, u64)> {
    let s = fs::read_to_string(dir.join("cursor")).ok()?;
    let mut it = s.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn write_cursor(dir: &Path, c: (u64, u64)) -> Result<(), TsdbError> {
    let tmp = dir.join("cursor.tmp");
    fs::write(&tmp, format!("{} {}\n", c.0, c.1))?;
    fs::rename(tmp, dir.join("cursor"))?;
    Ok(())
}

impl Spool {
    /// Opens the spool in `dir` (created if missing), counting what is not yet delivered.
    pub(super) fn open(dir: &Path, max_bytes: u64) -> Result<Self, TsdbError> {
        fs::create_dir_all(dir)?;
        let segs = segments(dir)?;
        let cursor = read_cursor(dir).unwrap_or((segs.first().copied().unwrap_or(1), 0));
        let mut pending = 0;
        for &s in &segs {
            let len = fs::metadata(seg_path(dir, s))?.len();
            if s > cursor.0 {
                pending += len;
            } else if s == cursor.0 {
                pending += len.saturating_sub(cursor.1);
            }
        }
        let seq = segs.last().copied().unwrap_or(cursor.0).max(cursor.0) + 1;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(seg_path(dir, seq))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            seg_max: (max_bytes / 8).clamp(64 << 10, 16 << 20),
            writer: Mutex::new(SpoolWriter { file, seq, size: 0 }),
            pending: AtomicU64::new(pending),
        })
    }

    /// Bytes waiting in the spool.
    pub(super) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Marks `bytes` of frames delivered (or skipped).
    pub(super) fn delivered(&self, bytes: u64) {
        self.pending
            .fetch_sub(bytes.min(self.pending()), Ordering::Relaxed);
    }

    /// Where delivery resumes: the saved cursor, else the oldest segment's start.
    pub(super) fn start_cursor(&self) -> (u64, u64) {
        read_cursor(&self.dir).unwrap_or_else(|| {
            (
                segments(&self.dir)
                    .ok()
                    .and_then(|s| s.first().copied())
                    .unwrap_or(1),
                0,
            )
        })
    }

    pub(super) fn save_cursor(&self, c: (u64, u64)) -> Result<(), TsdbError> {
        write_cursor(&self.dir, c)
    }

    /// Deletes the delivered segment `cursor.0` and returns the start of the next one.
    pub(super) fn next_segment(&self, cursor: (u64, u64)) -> (u64, u64) {
        let _ = fs::remove_file(seg_path(&self.dir, cursor.0));
        let next = segments(&self.dir)
            .ok()
            .and_then(|s| s.into_iter().find(|&s| s > cursor.0))
            .unwrap_or(cursor.0 + 1);
        let c = (next, 0);
        let _ = write_cursor(&self.dir, c);
        c
    }

    /// Appends one batch (`samples` samples as exposition text); refuses it with
    /// [`TsdbError::SpoolFull`] when the spool would outgrow `max_bytes`.
    pub(super) fn push(&self, body: &str, samples: usize) -> Result<(), TsdbError> {
        let mut frame = Vec::with_capacity(body.len() + FRAME_HDR);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&(samples as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(body.as_bytes()).to_le_bytes());
        frame.extend_from_slice(body.as_bytes());
        let len = frame.len() as u64;
        if self.pending.load(Ordering::Relaxed) + len > self.max_bytes {
            metrics::counter!("wardflux_tsdb_spool_dropped_samples_total")
                .increment(samples as u64);
            tracing::warn!(
                samples,
                spooled_bytes = self.pending(),
                "VictoriaMetrics spool full: batch dropped"
            );
            return Err(TsdbError::SpoolFull(samples));
        }
        let mut w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.size >= self.seg_max {
            let seq = w.seq + 1;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(seg_path(&self.dir, seq))?;
            *w = SpoolWriter { file, seq, size: 0 };
        }
        // counted before the write: the sender may deliver (and subtract) the frame as soon
        // as it is in the file
        self.pending.fetch_add(len, Ordering::SeqCst);
        if let Err(e) = w.file.write_all(&frame) {
            // possibly half written: continue in a fresh segment so the reader is not stuck
            // on a torn frame (it skips a corrupt rest of a segment)
            self.pending.fetch_sub(len, Ordering::SeqCst);
            let seq = w.seq + 1;
            if let Ok(file) = OpenOptions::new()
                .create(true)
                .append(true)
                .open(seg_path(&self.dir, seq))
            {
                *w = SpoolWriter { file, seq, size: 0 };
            }
            return Err(e.into());
        }
        w.size += len;
        Ok(())
    }

    pub(super) fn writer_seq(&self) -> u64 {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .seq
    }

    /// Reads whole frames from `cursor` up to about `MAX_POST` bytes of body.
    pub(super) fn read_frames(
        &self,
        cursor: (u64, u64),
    ) -> Result<(Vec<u8>, u64, u64, u64), TsdbError> {
        let path = seg_path(&self.dir, cursor.0);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), cursor.1, 0, 0));
            }
            Err(e) => return Err(e.into()),
        };
        f.seek(SeekFrom::Start(cursor.1))?;
        let mut raw = Vec::new();
        Read::by_ref(&mut f)
            .take(MAX_POST as u64 + 1024)
            .read_to_end(&mut raw)?;
        let (mut pos, mut body, mut samples) = (0usize, Vec::new(), 0u64);
        while pos + FRAME_HDR <= raw.len() {
            let len = u32::from_le_bytes(raw[pos..pos + 4].try_into().unwrap_or_default()) as usize;
            let n = u32::from_le_bytes(raw[pos + 4..pos + 8].try_into().unwrap_or_default());
            let crc = u32::from_le_bytes(raw[pos + 8..pos + 12].try_into().unwrap_or_default());
            let Some(b) = raw.get(pos + FRAME_HDR..pos + FRAME_HDR + len) else {
                if body.is_empty() && len > MAX_POST {
                    // a single frame bigger than the read window: read it alone
                    let mut big = vec![0u8; len];
                    f.seek(SeekFrom::Start(cursor.1 + FRAME_HDR as u64))?;
                    f.read_exact(&mut big)?;
                    if crc32fast::hash(&big) == crc {
                        return Ok((
                            big,
                            cursor.1 + (FRAME_HDR + len) as u64,
                            u64::from(n),
                            (FRAME_HDR + len) as u64,
                        ));
                    }
                }
                break;
            };
            if crc32fast::hash(b) != crc {
                tracing::error!(path = %path.display(), offset = cursor.1 + pos as u64, "corrupt spool frame: rest of segment skipped");
                let end = fs::metadata(&path)?.len();
                return Ok((body, end, samples, end - cursor.1));
            }
            if !body.is_empty() && body.len() + len > MAX_POST {
                break;
            }
            body.extend_from_slice(b);
            samples += u64::from(n);
            pos += FRAME_HDR + len;
        }
        Ok((body, cursor.1 + pos as u64, samples, pos as u64))
    }
}
