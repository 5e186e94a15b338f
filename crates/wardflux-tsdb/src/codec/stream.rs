//! Streaming chunks: samples compressed one at a time, as the head of the embedded store
//! receives them.
//!
//! The block codec ([`super::encode`]) needs all samples of a chunk up front and picks the
//! cheapest layout for them; the head cannot wait for the hour to end, so each sample is
//! appended to a bit stream as it arrives (Gorilla-style, as Prometheus' head chunks do) and
//! only the previous timestamp, delta and value are kept as state. The first sample is stored
//! raw (64 + 64 bits); every later one as
//!
//! * **timestamp**: delta-of-delta, zig-zagged, in buckets `0` (regular interval: 1 bit),
//!   `10`+7, `110`+9, `1110`+12, `11110`+20, `11111`+64 bits;
//! * **value**: `0` when equal to the previous value (1 bit); `10` + scale (3 bits) + the
//!   zig-zagged delta of the two values times `10^scale` when both are exact decimals with at
//!   most six places (counters, 0/1 states, milliseconds at microsecond resolution), in
//!   buckets `0`+8, `10`+16, `110`+32, `111`+64 bits; otherwise `11` + Gorilla's XOR with the
//!   previous value (6 bits leading zeros, 6 bits length - 1, the meaningful bits).
//!
//! The byte buffer grows by an eighth at a time (`reserve_exact`), so unused capacity stays
//! under about 12 % of the compressed size. Timestamps may go backwards (signed deltas); the
//! reader sorts and deduplicates, as for blocks.

use super::{BitReader, CodecError, unzigzag, zigzag};

const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

/// One series' samples as a growing compressed bit stream.
#[derive(Debug, Clone, Default)]
pub struct StreamChunk {
    buf: Vec<u8>,
    /// Bits used in the last byte of `buf` (1..=8; 0 when `buf` is empty).
    last_bits: u8,
    n: u32,
    t: i64,
    dt: i64,
    v: f64,
    min_t: i64,
    max_t: i64,
}

/// `x * 10^s` as an integer when that reconstructs `x` bit for bit.
fn scaled(x: f64, s: usize) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let m = (x * POW10[s]).round();
    if m.abs() >= 9.0e15 {
        return None;
    }
    let m = m as i64;
    ((m as f64 / POW10[s]).to_bits() == x.to_bits()).then_some(m)
}

/// Smallest scale at which both values are exact decimals, and the delta of their scaled
/// integers.
fn decimal_delta(prev: f64, v: f64) -> Option<(usize, i64)> {
    (0..POW10.len()).find_map(|s| Some((s, scaled(v, s)?.checked_sub(scaled(prev, s)?)?)))
}

impl StreamChunk {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Oldest and newest timestamp (`None` when empty).
    pub fn time_range(&self) -> Option<(i64, i64)> {
        (self.n > 0).then_some((self.min_t, self.max_t))
    }

    /// The newest sample by position (the last one appended).
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.n > 0).then_some((self.t, self.v))
    }

    /// Heap bytes held (the buffer's capacity).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// The compressed stream and the bits used in its last byte (for checkpoints).
    pub fn parts(&self) -> (&[u8], u8, u32) {
        (&self.buf, self.last_bits, self.n)
    }

    fn put(&mut self, v: u64, n: u32) {
        let mut left = n;
        while left > 0 {
            if self.buf.is_empty() || self.last_bits == 8 {
                if self.buf.len() == self.buf.capacity() {
                    self.buf.reserve_exact((self.buf.len() / 8).max(8));
                }
                self.buf.push(0);
                self.last_bits = 0;
            }
            let free = 8 - u32::from(self.last_bits);
            let take = free.min(left);
            let bits = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            let i = self.buf.len() - 1;
            self.buf[i] |= bits << (free - take);
            self.last_bits += take as u8;
            left -= take;
        }
    }

    fn put_bucketed(&mut self, z: u64, widths: &[u32]) {
        for (i, &w) in widths.iter().enumerate() {
            let last = i + 1 == widths.len();
            if last || w == 64 || z < 1u64 << w {
                // i ones, then a zero unless this is the last bucket
                let prefix_len = if last { i as u32 } else { i as u32 + 1 };
                let prefix = if last {
                    (1u64 << i) - 1
                } else {
                    ((1u64 << i) - 1) << 1
                };
                self.put(prefix, prefix_len);
                self.put(z, w);
                return;
            }
        }
    }

    /// Appends one sample.
    pub fn push(&mut self, t: i64, v: f64) {
        if self.n == 0 {
            self.put(t as u64, 64);
            self.put(v.to_bits(), 64);
            self.min_t = t;
            self.max_t = t;
        } else {
            let d = t.wrapping_sub(self.t);
            self.put_bucketed(zigzag(d.wrapping_sub(self.dt)), &TS_WIDTHS);
            self.dt = d;
            if v.to_bits() == self.v.to_bits() {
                self.put(0, 1);
            } else if let Some((s, delta)) = decimal_delta(self.v, v) {
                self.put(0b10, 2);
                self.put(s as u64, 3);
                self.put_bucketed(zigzag(delta), &DEC_WIDTHS);
            } else {
                let x = self.v.to_bits() ^ v.to_bits();
                let lz = x.leading_zeros();
                let tz = x.trailing_zeros();
                let len = 64 - lz - tz;
                self.put(0b11, 2);
                self.put(u64::from(lz), 6);
                self.put(u64::from(len - 1), 6);
                self.put(x >> tz, len);
            }
            self.min_t = self.min_t.min(t);
            self.max_t = self.max_t.max(t);
        }
        self.n += 1;
        self.t = t;
        self.v = v;
    }

    /// Calls `f` with every sample in append order.
    pub fn for_each(&self, f: impl FnMut(i64, f64)) -> Result<(), CodecError> {
        self.replay(f).map(|_| ())
    }

    /// Decodes every sample; returns the last (t, dt, v) and the bits read.
    fn replay(&self, mut f: impl FnMut(i64, f64)) -> Result<(i64, i64, f64, usize), CodecError> {
        let mut r = BitReader {
            data: &self.buf,
            pos: 0,
        };
        let (mut t, mut dt, mut v) = (0i64, 0i64, 0f64);
        for i in 0..self.n {
            if i == 0 {
                t = r.read(64)? as i64;
                v = f64::from_bits(r.read(64)?);
            } else {
                dt = dt.wrapping_add(unzigzag(read_bucketed(&mut r, &TS_WIDTHS)?));
                t = t.wrapping_add(dt);
                if r.bit()? {
                    if r.bit()? {
                        let lz = r.read(6)? as u32;
                        let len = r.read(6)? as u32 + 1;
                        if lz + len > 64 {
                            return Err(CodecError::BadMode(lz as u8));
                        }
                        let x = r.read(len)? << (64 - lz - len);
                        v = f64::from_bits(v.to_bits() ^ x);
                    } else {
                        let s = r.read(3)? as usize;
                        let delta = unzigzag(read_bucketed(&mut r, &DEC_WIDTHS)?);
                        let prev = (s < POW10.len())
                            .then(|| scaled(v, s))
                            .flatten()
                            .ok_or(CodecError::BadMode(s as u8))?;
                        v = prev.wrapping_add(delta) as f64 / POW10[s];
                    }
                }
            }
            f(t, v);
        }
        Ok((t, dt, v, r.pos))
    }

    /// Rebuilds a chunk from [`parts`](Self::parts), ready for more appends; fails when the
    /// stream does not hold `n` samples in the bits it declares.
    pub fn restore(buf: Vec<u8>, last_bits: u8, n: u32) -> Result<Self, CodecError> {
        if last_bits > 8 || buf.is_empty() != (last_bits == 0) || (n == 0) != buf.is_empty() {
            return Err(CodecError::Truncated);
        }
        let mut c = Self {
            buf,
            last_bits,
            n,
            ..Self::default()
        };
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let (t, dt, v, read) = c.replay(|t, _| {
            lo = lo.min(t);
            hi = hi.max(t);
        })?;
        let used = c.buf.len().saturating_sub(1) * 8 + usize::from(last_bits);
        if read > used {
            return Err(CodecError::Truncated);
        }
        (c.t, c.dt, c.v, c.min_t, c.max_t) = (t, dt, v, lo, hi);
        Ok(c)
    }
}

const TS_WIDTHS: [u32; 6] = [0, 7, 9, 12, 20, 64];
const DEC_WIDTHS: [u32; 4] = [8, 16, 32, 64];

fn read_bucketed(r: &mut BitReader<'_>, widths: &[u32]) -> Result<u64, CodecError> {
    let mut i = 0;
    while i + 1 < widths.len() && r.bit()? {
        i += 1;
    }
    r.read(widths[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(c: &StreamChunk) -> Vec<(i64, f64)> {
        let mut v = Vec::new();
        c.for_each(|t, x| v.push((t, x))).unwrap();
        v
    }

    fn check(samples: &[(i64, f64)]) -> StreamChunk {
        let mut c = StreamChunk::default();
        for &(t, v) in samples {
            c.push(t, v);
        }
        let got = collect(&c);
        assert_eq!(got.len(), samples.len());
        for (a, b) in got.iter().zip(samples) {
            assert_eq!(a.0, b.0);
            assert!(
                a.1.to_bits() == b.1.to_bits(),
                "{} != {} (bits differ)",
                a.1,
                b.1
            );
        }
        c
    }

    #[test]
    fn odd_values_and_timestamps_roundtrip_bit_for_bit() {
        let vals = [
            0.0,
            -0.0,
            1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1 + 0.2,
            1e300,
            -1e-300,
            0.045,
            123.456,
            f64::MAX,
            f64::MIN_POSITIVE,
            9.0e15,
            -7.0,
        ];
        let ts = [
            0,
            i64::MAX,
            i64::MIN,
            5,
            5,
            -3,
            1_700_000_000_000,
            1_700_000_010_000,
            1_700_000_020_017,
        ];
        let samples: Vec<(i64, f64)> = (0..200)
            .map(|i| (ts[i % ts.len()], vals[(i * 7) % vals.len()]))
            .collect();
        check(&samples);
    }

    #[test]
    fn monitoring_data_costs_few_bits() {
        // 10 s pings with scheduler jitter: a 0/1 state, loss, RTT at microsecond resolution
        let mut rtt = 12_345i64;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut up = Vec::new();
        let mut rtts = Vec::new();
        for i in 0..360i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = 1_700_000_000_000 + i * 10_000 + (x % 20) as i64;
            rtt += (x >> 20) as i64 % 201 - 100;
            up.push((t, 1.0));
            rtts.push((t, rtt as f64 / 1000.0));
        }
        let c = check(&up);
        let b = c.parts().0.len() as f64 / 360.0;
        // jittered timestamps cost 9 bits, the unchanged value 1 bit
        assert!(b < 1.3, "constant series: {b} B/sample");
        let c = check(&rtts);
        let b = c.parts().0.len() as f64 / 360.0;
        assert!(b < 3.0, "RTT series: {b} B/sample");
        assert!(c.heap_bytes() <= c.parts().0.len() * 9 / 8 + 8);
    }

    #[test]
    fn restore_continues_where_the_stream_stopped() {
        let samples: Vec<(i64, f64)> = (0..100)
            .map(|i| (i * 1000, (i % 7) as f64 * 0.25))
            .collect();
        let mut a = StreamChunk::default();
        for &(t, v) in &samples[..60] {
            a.push(t, v);
        }
        let (buf, bits, n) = a.parts();
        let mut b = StreamChunk::restore(buf.to_vec(), bits, n).unwrap();
        assert_eq!(b.time_range(), a.time_range());
        for &(t, v) in &samples[60..] {
            a.push(t, v);
            b.push(t, v);
        }
        assert_eq!(a.parts(), b.parts());
        assert_eq!(collect(&b), samples);
        // a stream cut short is refused, not misread
        let (buf, bits, n) = a.parts();
        assert!(StreamChunk::restore(buf[..buf.len() / 2].to_vec(), bits, n).is_err());
    }
}
