//! Chunk compression for the embedded store (no I/O).
//!
//! Written by hand because the Gorilla crates on crates.io (tsz and forks) are unmaintained and
//! pco would add a large dependency for a format we only need for (timestamp, value) pairs.
//! Layout of one chunk (n samples, `k` value columns sharing the timestamps):
//!
//! * `n` (LEB128), first timestamp (zig-zag LEB128);
//! * the other timestamps, mode byte first: delta-of-delta in Gorilla buckets (`0` for a regular
//!   interval: 1 bit/sample) or residuals from a straight line, bit-packed (see `encode_ts`);
//! * per column one mode byte, then either
//!   * **decimal** (modes 1 and 2): when every value is an integer times `10^-s` (s <= 6), the
//!     scaled integers' deltas (mode 1) or delta-of-deltas (mode 2) are zig-zagged and bit-packed
//!     at the smallest width that holds them all (0 bits for a constant series), or
//!   * **XOR** (mode 0): Gorilla's float XOR encoding, for arbitrary floats.

pub mod stream;

/// Most samples one chunk may hold (a corrupt count cannot make the decoder allocate more).
pub const MAX_SAMPLES: usize = 1 << 24;

/// Errors while decoding a chunk.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("chunk truncated")]
    Truncated,
    #[error("bad chunk mode {0}")]
    BadMode(u8),
}

pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, zigzag(v));
}

pub fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u64, CodecError> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos).ok_or(CodecError::Truncated)?;
        *pos += 1;
        if shift >= 64 {
            return Err(CodecError::Truncated);
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
        shift += 7;
    }
}

pub fn get_varint(buf: &[u8], pos: &mut usize) -> Result<i64, CodecError> {
    get_uvarint(buf, pos).map(unzigzag)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct BitWriter {
    buf: Vec<u8>,
    acc: u128,
    nacc: u32,
}

impl BitWriter {
    fn new(buf: Vec<u8>) -> Self {
        Self {
            buf,
            acc: 0,
            nacc: 0,
        }
    }

    fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let masked = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        self.acc = (self.acc << n) | u128::from(masked);
        self.nacc += n;
        while self.nacc >= 8 {
            self.nacc -= 8;
            self.buf.push((self.acc >> self.nacc) as u8);
        }
        self.acc &= (1u128 << self.nacc) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.nacc > 0 {
            self.buf.push((self.acc << (8 - self.nacc)) as u8);
        }
        self.buf
    }
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn read(&mut self, n: u32) -> Result<u64, CodecError> {
        let mut v = 0u64;
        let mut need = n;
        while need > 0 {
            let b = *self.data.get(self.pos / 8).ok_or(CodecError::Truncated)?;
            let off = (self.pos % 8) as u32;
            let avail = 8 - off;
            let take = avail.min(need);
            let bits = (u16::from(b) >> (avail - take)) & ((1u16 << take) - 1);
            v = if take == 64 {
                u64::from(bits)
            } else {
                (v << take) | u64::from(bits)
            };
            need -= take;
            self.pos += take as usize;
        }
        Ok(v)
    }

    fn bit(&mut self) -> Result<bool, CodecError> {
        self.read(1).map(|b| b == 1)
    }

    /// Byte offset after aligning to the next byte.
    fn byte_end(&self) -> usize {
        self.pos.div_ceil(8)
    }
}

/// Encodes `ts` (ascending) with `cols` value columns of the same length.
pub fn encode(ts: &[i64], cols: &[&[f64]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + ts.len() * (1 + cols.len()));
    put_uvarint(&mut out, ts.len() as u64);
    if ts.is_empty() {
        return out;
    }
    put_varint(&mut out, ts[0]);
    if ts.len() > 1 {
        encode_ts(&mut out, ts);
    }
    for col in cols {
        encode_values(&mut out, col);
    }
    out
}

/// Timestamps after the first: the cheaper of
/// * mode 0, Gorilla delta-of-delta buckets (`0` for a regular interval: 1 bit/sample), and
/// * mode 1, residuals from the straight line `ts[0] + i*step` (`step` = mean interval),
///   bit-packed at the smallest width; polls on a schedule with a few ms of jitter cost
///   about 5 bits instead of Gorilla's 9-12.
fn encode_ts(out: &mut Vec<u8>, ts: &[i64]) {
    let n = ts.len();
    let d1 = ts[1].wrapping_sub(ts[0]);
    // Gorilla size in bits
    let mut gbits = 0u64;
    let mut prev_d = d1;
    for i in 2..n {
        let d = ts[i].wrapping_sub(ts[i - 1]);
        let z = zigzag(d.wrapping_sub(prev_d));
        prev_d = d;
        gbits += match z {
            0 => 1,
            z if z < 1 << 7 => 9,
            z if z < 1 << 9 => 12,
            z if z < 1 << 12 => 16,
            _ => 68,
        };
    }
    let span = ts[n - 1].wrapping_sub(ts[0]);
    let step = (span as f64 / (n - 1) as f64).round() as i64;
    let resid = |i: usize| ts[i].wrapping_sub(ts[0].wrapping_add(step.wrapping_mul(i as i64)));
    let rmin = (1..n).map(resid).min().unwrap_or(0);
    let lw = width((1..n).map(|i| resid(i).wrapping_sub(rmin) as u64));
    let lbits = u64::from(lw) * (n as u64 - 1) + 8 * 12;
    if lbits < gbits {
        out.push(1);
        put_varint(out, step);
        put_varint(out, rmin);
        out.push(lw as u8);
        let mut w = BitWriter::new(std::mem::take(out));
        for i in 1..n {
            w.write(resid(i).wrapping_sub(rmin) as u64, lw);
        }
        *out = w.finish();
        return;
    }
    out.push(0);
    put_varint(out, d1);
    let mut w = BitWriter::new(std::mem::take(out));
    let mut prev_d = d1;
    for i in 2..n {
        let d = ts[i].wrapping_sub(ts[i - 1]);
        let z = zigzag(d.wrapping_sub(prev_d));
        prev_d = d;
        if z == 0 {
            w.write(0, 1);
        } else if z < 1 << 7 {
            w.write(0b10, 2);
            w.write(z, 7);
        } else if z < 1 << 9 {
            w.write(0b110, 3);
            w.write(z, 9);
        } else if z < 1 << 12 {
            w.write(0b1110, 4);
            w.write(z, 12);
        } else {
            w.write(0b1111, 4);
            w.write(z, 64);
        }
    }
    *out = w.finish();
}

fn decode_ts(buf: &[u8], pos: &mut usize, n: usize, ts: &mut Vec<i64>) -> Result<(), CodecError> {
    let mode = *buf.get(*pos).ok_or(CodecError::Truncated)?;
    *pos += 1;
    match mode {
        1 => {
            let step = get_varint(buf, pos)?;
            let rmin = get_varint(buf, pos)?;
            let lw = u32::from(*buf.get(*pos).ok_or(CodecError::Truncated)?).min(64);
            *pos += 1;
            let mut r = BitReader {
                data: buf.get(*pos..).ok_or(CodecError::Truncated)?,
                pos: 0,
            };
            for i in 1..n {
                let res = (r.read(lw)? as i64).wrapping_add(rmin);
                ts.push(
                    ts[0]
                        .wrapping_add(step.wrapping_mul(i as i64))
                        .wrapping_add(res),
                );
            }
            *pos += r.byte_end();
        }
        0 => {
            let d1 = get_varint(buf, pos)?;
            ts.push(ts[0].wrapping_add(d1));
            let mut r = BitReader {
                data: buf.get(*pos..).ok_or(CodecError::Truncated)?,
                pos: 0,
            };
            let mut prev_d = d1;
            for i in 2..n {
                let z = if !r.bit()? {
                    0
                } else if !r.bit()? {
                    r.read(7)?
                } else if !r.bit()? {
                    r.read(9)?
                } else if !r.bit()? {
                    r.read(12)?
                } else {
                    r.read(64)?
                };
                let d = prev_d.wrapping_add(unzigzag(z));
                prev_d = d;
                ts.push(ts[i - 1].wrapping_add(d));
            }
            *pos += r.byte_end();
        }
        m => return Err(CodecError::BadMode(m)),
    }
    Ok(())
}

fn decimal_scale(vals: &[f64]) -> Option<(u8, Vec<i64>)> {
    'scale: for s in 0u8..=6 {
        let p = 10f64.powi(i32::from(s));
        let mut ints = Vec::with_capacity(vals.len());
        for &v in vals {
            if !v.is_finite() {
                return None;
            }
            let x = (v * p).round();
            if x.abs() >= 9.0e15
                || x / p != v
                || (x == 0.0 && v.is_sign_negative() && v == 0.0 && 1.0 / v < 0.0)
            {
                continue 'scale;
            }
            ints.push(x as i64);
        }
        return Some((s, ints));
    }
    None
}

fn width(vals: impl Iterator<Item = u64>) -> u32 {
    let m = vals.fold(0u64, |a, b| a | b);
    64 - m.leading_zeros()
}

fn encode_values(out: &mut Vec<u8>, vals: &[f64]) {
    if let Some((s, ints)) = decimal_scale(vals) {
        let deltas: Vec<i64> = ints.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        let dods: Vec<i64> = deltas.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        let wd = width(deltas.iter().map(|&d| zigzag(d)));
        let wdd = width(dods.iter().map(|&d| zigzag(d)));
        if deltas.len() < 2 || wd <= wdd {
            out.push(1);
            out.push(s);
            put_varint(out, ints[0]);
            out.push(wd as u8);
            let mut w = BitWriter::new(std::mem::take(out));
            for d in deltas {
                w.write(zigzag(d), wd);
            }
            *out = w.finish();
        } else {
            out.push(2);
            out.push(s);
            put_varint(out, ints[0]);
            put_varint(out, deltas[0]);
            out.push(wdd as u8);
            let mut w = BitWriter::new(std::mem::take(out));
            for d in dods {
                w.write(zigzag(d), wdd);
            }
            *out = w.finish();
        }
        return;
    }
    out.push(0);
    let mut w = BitWriter::new(std::mem::take(out));
    let mut prev = vals[0].to_bits();
    w.write(prev, 64);
    let (mut pl, mut pt) = (u32::MAX, 0u32);
    for &v in &vals[1..] {
        let b = v.to_bits();
        let x = b ^ prev;
        prev = b;
        if x == 0 {
            w.write(0, 1);
            continue;
        }
        w.write(1, 1);
        let l = x.leading_zeros().min(31);
        let t = x.trailing_zeros();
        if pl != u32::MAX && l >= pl && t >= pt {
            w.write(0, 1);
            w.write(x >> pt, 64 - pl - pt);
        } else {
            let sig = 64 - l - t;
            w.write(1, 1);
            w.write(u64::from(l), 5);
            w.write(u64::from(sig - 1), 6);
            w.write(x >> t, sig);
            pl = l;
            pt = t;
        }
    }
    *out = w.finish();
}

/// Decodes a chunk written by [`encode`] with `ncols` columns.
pub fn decode(buf: &[u8], ncols: usize) -> Result<(Vec<i64>, Vec<Vec<f64>>), CodecError> {
    let mut pos = 0;
    let n = usize::try_from(get_uvarint(buf, &mut pos)?).map_err(|_| CodecError::Truncated)?;
    if n > MAX_SAMPLES {
        return Err(CodecError::Truncated);
    }
    let mut ts = Vec::with_capacity(n.min(1 << 16));
    let mut cols = Vec::with_capacity(ncols);
    if n == 0 {
        return Ok((ts, vec![Vec::new(); ncols]));
    }
    ts.push(get_varint(buf, &mut pos)?);
    if n > 1 {
        decode_ts(buf, &mut pos, n, &mut ts)?;
    }
    for _ in 0..ncols {
        cols.push(decode_values(buf, &mut pos, n)?);
    }
    Ok((ts, cols))
}

fn decode_values(buf: &[u8], pos: &mut usize, n: usize) -> Result<Vec<f64>, CodecError> {
    let mode = *buf.get(*pos).ok_or(CodecError::Truncated)?;
    *pos += 1;
    let mut vals = Vec::with_capacity(n.min(1 << 16));
    match mode {
        1 | 2 => {
            let s = *buf.get(*pos).ok_or(CodecError::Truncated)?;
            *pos += 1;
            let p = 10f64.powi(i32::from(s.min(18)));
            let mut cur = get_varint(buf, pos)?;
            let mut delta = if mode == 2 && n > 1 {
                get_varint(buf, pos)?
            } else {
                0
            };
            let w = u32::from(*buf.get(*pos).ok_or(CodecError::Truncated)?).min(64);
            *pos += 1;
            let mut r = BitReader {
                data: &buf[*pos..],
                pos: 0,
            };
            vals.push(cur as f64 / p);
            for i in 1..n {
                if mode == 1 {
                    cur = cur.wrapping_add(unzigzag(r.read(w)?));
                } else {
                    if i >= 2 {
                        delta = delta.wrapping_add(unzigzag(r.read(w)?));
                    }
                    cur = cur.wrapping_add(delta);
                }
                vals.push(cur as f64 / p);
            }
            *pos += r.byte_end();
        }
        0 => {
            let mut r = BitReader {
                data: &buf[*pos..],
                pos: 0,
            };
            let mut prev = r.read(64)?;
            vals.push(f64::from_bits(prev));
            let (mut pl, mut pt) = (0u32, 0u32);
            for _ in 1..n {
                if r.bit()? {
                    let x = if !r.bit()? {
                        (r.read(64 - pl - pt)?) << pt
                    } else {
                        pl = r.read(5)? as u32;
                        let sig = r.read(6)? as u32 + 1;
                        pt = 64u32.saturating_sub(pl + sig);
                        (r.read(sig)?) << pt
                    };
                    prev ^= x;
                }
                vals.push(f64::from_bits(prev));
            }
            *pos += r.byte_end();
        }
        m => return Err(CodecError::BadMode(m)),
    }
    Ok(vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(ts: &[i64], vals: &[f64]) -> usize {
        let buf = encode(ts, &[vals]);
        let (t2, c2) = decode(&buf, 1).unwrap();
        assert_eq!(t2, ts);
        assert_eq!(c2.len(), 1);
        for (a, b) in c2[0].iter().zip(vals) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{a} != {b}"
            );
        }
        buf.len()
    }

    #[test]
    fn regular_constant_series_is_tiny() {
        let ts: Vec<i64> = (0..1000).map(|i| 1_700_000_000_000 + i * 10_000).collect();
        let vals = vec![1.0; 1000];
        let n = roundtrip(&ts, &vals);
        assert!(n < 150, "{n} bytes");
    }

    #[test]
    fn decimal_noise_and_counters() {
        let ts: Vec<i64> = (0..1000)
            .map(|i| 1_700_000_000_000 + i * 10_000 + (i % 3))
            .collect();
        // RTTs as a pinger reports them: microseconds / 1000, uniformly random (worst case)
        let rtt: Vec<f64> = (0..1000)
            .map(|i| f64::from((i * 7919) % 1500 + 200) / 1000.0)
            .collect();
        let n = roundtrip(&ts, &rtt);
        assert!(n < 2800, "{n} bytes");
        let ctr: Vec<f64> = (0..1000).map(|i| f64::from(i) * 125_000.0).collect();
        let n = roundtrip(&ts, &ctr);
        assert!(n < 1000, "{n} bytes"); // mostly the jittered timestamps
    }

    #[test]
    fn arbitrary_floats_use_xor_and_roundtrip() {
        let ts: Vec<i64> = (0..500).map(|i| i * 15_000 - 7).collect();
        let vals: Vec<f64> = (0..500)
            .map(|i| match i % 50 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => -0.0,
                _ => (f64::from(i)).sin() * 1e-3,
            })
            .collect();
        roundtrip(&ts, &vals);
        roundtrip(&[5], &[1.5]);
        roundtrip(&[5, 7], &[f64::NAN, 2.0]);
        roundtrip(&[], &[]);
    }

    #[test]
    fn jittered_and_gappy_timestamps_roundtrip_compactly() {
        let mut x = 12345u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // a poll every minute with 0-20 ms jitter: the straight-line mode, about 5 bits
        let ts: Vec<i64> = (0..1440)
            .map(|i| 1_700_000_000_000 + i * 60_000 + (rnd() % 21) as i64)
            .collect();
        let n = roundtrip(&ts, &vec![1.0; 1440]);
        assert!(n < 1440 * 6 / 8 + 40, "{n} bytes");
        // a gap (missed polls) falls back to delta-of-delta and still roundtrips
        let mut g = ts.clone();
        for t in g.iter_mut().skip(700) {
            *t += 3_600_000;
        }
        roundtrip(&g, &vec![2.0; 1440]);
        // extremes
        roundtrip(&[i64::MIN, -1, 0, 1, i64::MAX], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        roundtrip(&[i64::MIN, i64::MAX], &[1.0, 2.0]);
    }

    #[test]
    fn multiple_columns_and_truncation() {
        let ts = [1, 2, 3, 10];
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [0.5, 0.25, 1e300, -1.0];
        let buf = encode(&ts, &[&a, &b]);
        let (t, c) = decode(&buf, 2).unwrap();
        assert_eq!(t, ts);
        assert_eq!(c, vec![a.to_vec(), b.to_vec()]);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut], 2).is_err(), "cut {cut}");
        }
    }
}
