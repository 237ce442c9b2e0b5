//! Gorilla-compressed chunks: delta-of-delta timestamps and XOR-encoded float values,
//! bit for bit the scheme of the Gorilla paper as Prometheus' `chunkenc` XOR chunk uses it.
//!
//! Layout of a chunk's bit stream: the first timestamp as a zig-zag varint and the first value
//! as 64 raw bits; the second timestamp as a varint delta and the value XOR-encoded; then each
//! timestamp as a delta of deltas in buckets (`0`, `10`+14 bits, `110`+17, `1110`+20, `1111`+64)
//! and each value XOR-ed with the previous one (`0` when equal, `10` reusing the previous
//! leading/trailing-zero window, `11` + 5 bits leading zeros + 6 bits length + the bits).

/// Samples per chunk before a new one is cut (as Prometheus).
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// An append-only compressed chunk of `(timestamp ms, value)` samples.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    bytes: Vec<u8>,
    bits: u64,
    count: u16,
    min_t: i64,
    max_t: i64,
    // Append state.
    t_delta: i64,
    last_v: u64,
    leading: u8,
    trailing: u8,
}

impl Chunk {
    /// An empty chunk.
    pub fn new() -> Self {
        Self {
            leading: 0xff,
            ..Self::default()
        }
    }

    /// Number of samples.
    pub fn len(&self) -> u16 {
        self.count
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Oldest timestamp.
    pub fn min_t(&self) -> i64 {
        self.min_t
    }

    /// Newest timestamp.
    pub fn max_t(&self) -> i64 {
        self.max_t
    }

    /// Encoded size in bytes.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// True when a new chunk should be cut before the next append.
    pub fn is_full(&self) -> bool {
        self.count >= SAMPLES_PER_CHUNK
    }

    /// The raw encoding (for snapshots).
    pub fn raw(&self) -> (&[u8], u64, u16) {
        (&self.bytes, self.bits, self.count)
    }

    /// Rebuilds a chunk from its raw encoding; the append state is recovered by decoding.
    pub fn from_raw(bytes: Vec<u8>, bits: u64, count: u16) -> Option<Self> {
        if bits > bytes.len() as u64 * 8 {
            return None;
        }
        let probe = Self {
            bytes,
            bits,
            count,
            ..Self::new()
        };
        let samples: Vec<(i64, f64)> = probe.iter().collect();
        if samples.len() != usize::from(count) {
            return None;
        }
        // Re-encode so the append state (deltas, XOR window) is exact.
        let mut chunk = Self::new();
        for (t, v) in samples {
            chunk.append(t, v);
        }
        (chunk.bytes == probe.bytes).then_some(chunk)
    }

    /// Appends a sample; the caller guarantees `t` is newer than [`Chunk::max_t`].
    pub fn append(&mut self, t: i64, v: f64) {
        let vbits = v.to_bits();
        match self.count {
            0 => {
                self.write_varint(t);
                self.write_bits(vbits, 64);
                self.min_t = t;
            }
            1 => {
                let delta = t - self.max_t;
                self.write_uvarint(delta as u64);
                self.write_xor(vbits);
                self.t_delta = delta;
            }
            _ => {
                let delta = t - self.max_t;
                let dod = delta - self.t_delta;
                if dod == 0 {
                    self.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.write_bits(0b10, 2);
                    self.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.write_bits(0b110, 3);
                    self.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.write_bits(0b1110, 4);
                    self.write_bits(dod as u64, 20);
                } else {
                    self.write_bits(0b1111, 4);
                    self.write_bits(dod as u64, 64);
                }
                self.write_xor(vbits);
                self.t_delta = delta;
            }
        }
        self.max_t = t;
        self.last_v = vbits;
        self.count += 1;
    }

    fn write_xor(&mut self, vbits: u64) {
        let delta = vbits ^ self.last_v;
        if delta == 0 {
            self.write_bit(false);
            return;
        }
        self.write_bit(true);
        let mut leading = delta.leading_zeros() as u8;
        let trailing = delta.trailing_zeros() as u8;
        // Clamp so the count fits in 5 bits.
        if leading >= 32 {
            leading = 31;
        }
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.write_bit(false);
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.write_bits(delta >> self.trailing, sig);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            self.write_bit(true);
            self.write_bits(u64::from(leading), 5);
            let sig = 64 - u32::from(leading) - u32::from(trailing);
            // 64 significant bits are written as 0 (it cannot be 0 otherwise).
            self.write_bits(u64::from(sig) & 0x3f, 6);
            self.write_bits(delta >> trailing, sig);
        }
    }

    fn write_bit(&mut self, bit: bool) {
        let byte = (self.bits / 8) as usize;
        if byte == self.bytes.len() {
            self.bytes.push(0);
        }
        if bit {
            self.bytes[byte] |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }

    fn write_bits(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            self.write_bit((value >> i) & 1 == 1);
        }
    }

    fn write_uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.write_bits((x & 0x7f) | 0x80, 8);
            x >>= 7;
        }
        self.write_bits(x, 8);
    }

    fn write_varint(&mut self, x: i64) {
        self.write_uvarint(((x << 1) ^ (x >> 63)) as u64);
    }

    /// Iterates the samples in order.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            chunk: self,
            pos: 0,
            read: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0,
            trailing: 0,
        }
    }
}

/// True when `x` fits a signed field of `n` bits as the Gorilla buckets define it.
fn bit_range(x: i64, n: u32) -> bool {
    -((1i64 << (n - 1)) - 1) <= x && x <= (1i64 << (n - 1))
}

/// Iterator over a chunk's samples.
#[derive(Debug)]
pub struct ChunkIter<'a> {
    chunk: &'a Chunk,
    pos: u64,
    read: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl ChunkIter<'_> {
    fn bit(&mut self) -> Option<bool> {
        if self.pos >= self.chunk.bits {
            return None;
        }
        let b = self.chunk.bytes[(self.pos / 8) as usize] & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(b)
    }

    fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Some(v)
    }

    fn uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        let mut shift = 0;
        loop {
            let b = self.bits(8)?;
            x |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Some(x);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }

    fn signed(v: u64, n: u32) -> i64 {
        // Sign-extend an n-bit two's complement field; the bucket's top value is positive.
        if n == 64 {
            return v as i64;
        }
        if v > (1u64 << (n - 1)) {
            (v as i64) - (1i64 << n)
        } else {
            v as i64
        }
    }

    fn read_xor(&mut self) -> Option<()> {
        if !self.bit()? {
            return Some(());
        }
        if self.bit()? {
            self.leading = self.bits(5)? as u8;
            let mut sig = self.bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            self.trailing = 64 - self.leading - sig;
        }
        let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let bits = self.bits(sig)?;
        self.v ^= bits << self.trailing;
        Some(())
    }

    fn step(&mut self) -> Option<(i64, f64)> {
        match self.read {
            0 => {
                let u = self.uvarint()?;
                self.t = ((u >> 1) as i64) ^ -((u & 1) as i64);
                self.v = self.bits(64)?;
            }
            1 => {
                self.t_delta = self.uvarint()? as i64;
                self.t += self.t_delta;
                self.read_xor()?;
            }
            _ => {
                let mut prefix = 0;
                while prefix < 4 && self.bit()? {
                    prefix += 1;
                }
                let dod = match prefix {
                    0 => 0,
                    1 => Self::signed(self.bits(14)?, 14),
                    2 => Self::signed(self.bits(17)?, 17),
                    3 => Self::signed(self.bits(20)?, 20),
                    _ => self.bits(64)? as i64,
                };
                self.t_delta += dod;
                self.t += self.t_delta;
                self.read_xor()?;
            }
        }
        self.read += 1;
        Some((self.t, f64::from_bits(self.v)))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.read >= self.chunk.count {
            return None;
        }
        self.step()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_irregular_samples_and_special_values() {
        let mut samples = Vec::new();
        let mut t = 1_700_000_000_000i64;
        let mut v = 0.0f64;
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from_bits(0x7ff0_0000_0000_0002),
            -0.0,
            1e300,
            5e-324,
        ];
        for i in 0..119i64 {
            t += match i % 7 {
                0 => 15_000,
                1 => 15_001,
                2 => 1,
                3 => 300_000,
                4 => 100_000_000,
                5 => 1 << 40,
                _ => 14_999,
            };
            v = if i % 9 == 0 {
                specials[(i as usize / 9) % specials.len()]
            } else {
                v + (i as f64) * 0.37
            };
            samples.push((t, v));
        }
        let mut chunk = Chunk::new();
        for &(t, v) in &samples {
            chunk.append(t, v);
        }
        let decoded: Vec<(i64, f64)> = chunk.iter().collect();
        assert_eq!(decoded.len(), samples.len());
        for (a, b) in decoded.iter().zip(&samples) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits());
        }
        let (bytes, bits, count) = chunk.raw();
        let again = Chunk::from_raw(bytes.to_vec(), bits, count).unwrap();
        assert_eq!(again.iter().count(), samples.len());
    }

    #[test]
    fn regular_counter_compresses_to_a_few_bits_per_sample() {
        let mut chunk = Chunk::new();
        for i in 0..120i64 {
            chunk.append(1_700_000_000_000 + i * 15_000, (i * 10) as f64);
        }
        let per_sample = chunk.byte_len() as f64 / 120.0;
        assert!(per_sample < 3.0, "{per_sample} bytes per sample");
    }

    #[test]
    fn negative_deltas_of_deltas_decode() {
        let mut chunk = Chunk::new();
        let ts = [
            0i64, 10_000, 10_001, 30_000, 30_500, 31_000, 2_000_000, 2_000_001,
        ];
        for (i, t) in ts.iter().enumerate() {
            chunk.append(*t, i as f64);
        }
        let got: Vec<i64> = chunk.iter().map(|(t, _)| t).collect();
        assert_eq!(got, ts);
    }
}
