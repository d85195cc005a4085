//! bzip2 decoder, written from the format description: Huffman-coded
//! MTF/RLE2 symbols, inverse Burrows-Wheeler transform, RLE1 expansion,
//! per-block and per-stream CRCs, concatenated streams (as pbzip2 writes).
//! Hand-written because the available pure-Rust crates are either much
//! larger (a full libbzip2 port) or little-used; this is about 300 lines and
//! favours small code over speed (bit-at-a-time Huffman decoding).

use super::Kind;
use super::check::crc32_msb_update;
use super::out::Out;

const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
const END_MAGIC: u64 = 0x1772_4538_5090;
const MAX_CODE_LEN: usize = 20;
/// bzip2 1.0.6+ ignores selectors past this many; so do we.
const MAX_SELECTORS: usize = 18002;

struct Bits<'a> {
    d: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, Kind> {
        let byte = *self.d.get(self.pos >> 3).ok_or(Kind::Truncated)?;
        let b = (byte >> (7 - (self.pos & 7))) & 1;
        self.pos += 1;
        Ok(b as u32)
    }

    fn bits(&mut self, n: u32) -> Result<u32, Kind> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }
}

pub(crate) fn decode(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    let mut bits = Bits { d, pos: 0 };
    let mut tt = Vec::new();
    loop {
        if bits.bits(24)? != 0x42_5a_68 {
            return Err(Kind::Corrupt("bad magic"));
        }
        let level = bits.bits(8)?;
        if !(0x31..=0x39).contains(&level) {
            return Err(Kind::Corrupt("bad block size"));
        }
        let max_block = (level as usize - 0x30) * 100_000;
        let mut combined = 0u32;
        loop {
            let magic = ((bits.bits(24)? as u64) << 24) | bits.bits(24)? as u64;
            let stored = bits.bits(32)?;
            if magic == END_MAGIC {
                if stored != combined {
                    return Err(Kind::Corrupt("stream CRC mismatch"));
                }
                break;
            }
            if magic != BLOCK_MAGIC {
                return Err(Kind::Corrupt("bad block magic"));
            }
            if block(&mut bits, max_block, &mut tt, out)? != stored {
                return Err(Kind::Corrupt("CRC mismatch"));
            }
            combined = combined.rotate_left(1) ^ stored;
        }
        // Streams end on a byte boundary; another may follow.
        let rest = d.get(bits.pos.div_ceil(8)..).unwrap_or_default();
        if rest.iter().all(|&b| b == 0) {
            return Ok(());
        }
        if !rest.starts_with(b"BZh") {
            return Err(Kind::Corrupt("trailing garbage"));
        }
        bits.pos = (d.len() - rest.len()) * 8;
    }
}

/// Canonical Huffman code for one group, decoded a bit at a time.
struct Huffman {
    /// First code of each length, and where its symbols start in `symbols`.
    first: [u32; MAX_CODE_LEN + 1],
    start: [u16; MAX_CODE_LEN + 1],
    count: [u16; MAX_CODE_LEN + 1],
    symbols: [u16; 258],
}

impl Huffman {
    fn new(lens: &[u8]) -> Self {
        let mut h = Huffman {
            first: [0; MAX_CODE_LEN + 1],
            start: [0; MAX_CODE_LEN + 1],
            count: [0; MAX_CODE_LEN + 1],
            symbols: [0; 258],
        };
        let (mut code, mut idx) = (0u32, 0u16);
        for len in 1..=MAX_CODE_LEN {
            h.first[len] = code;
            h.start[len] = idx;
            for (sym, _) in lens.iter().enumerate().filter(|&(_, &l)| l as usize == len) {
                h.symbols[idx as usize] = sym as u16;
                idx += 1;
                h.count[len] += 1;
            }
            // Over-subscribed lengths (corrupt input) just make codes that
            // never match; saturate instead of overflowing.
            code = code.saturating_add(h.count[len] as u32).saturating_mul(2);
        }
        h
    }

    fn decode(&self, bits: &mut Bits) -> Result<usize, Kind> {
        let mut code = 0u32;
        for len in 1..=MAX_CODE_LEN {
            code = (code << 1) | bits.bit()?;
            let i = code.wrapping_sub(self.first[len]);
            if code >= self.first[len] && i < self.count[len] as u32 {
                return Ok(self.symbols[self.start[len] as usize + i as usize] as usize);
            }
        }
        Err(Kind::Corrupt("bad Huffman code"))
    }
}

/// Decode one block into `out`, returning its CRC.
fn block(bits: &mut Bits, max_block: usize, tt: &mut Vec<u32>, out: &mut Out) -> Result<u32, Kind> {
    if bits.bit()? != 0 {
        return Err(Kind::Unsupported("randomised block"));
    }
    let orig_ptr = bits.bits(24)? as usize;

    // Which byte values occur, as 16 groups of 16.
    let mut alphabet = Vec::with_capacity(256);
    let groups_used = bits.bits(16)?;
    for i in 0..16 {
        if groups_used & (0x8000 >> i) != 0 {
            let used = bits.bits(16)?;
            for j in 0..16 {
                if used & (0x8000 >> j) != 0 {
                    alphabet.push((i * 16 + j) as u8);
                }
            }
        }
    }
    if alphabet.is_empty() {
        return Err(Kind::Corrupt("empty symbol map"));
    }
    let alpha_size = alphabet.len() + 2;
    let eob = alphabet.len() + 1;

    let n_groups = bits.bits(3)? as usize;
    if !(2..=6).contains(&n_groups) {
        return Err(Kind::Corrupt("bad table count"));
    }
    let n_selectors = bits.bits(15)? as usize;
    if n_selectors == 0 {
        return Err(Kind::Corrupt("no selectors"));
    }
    let mut mtf_groups = [0u8, 1, 2, 3, 4, 5];
    let mut selectors = Vec::with_capacity(n_selectors.min(MAX_SELECTORS));
    for _ in 0..n_selectors {
        let mut j = 0;
        while bits.bit()? == 1 {
            j += 1;
            if j >= n_groups {
                return Err(Kind::Corrupt("bad selector"));
            }
        }
        let g = mtf_groups[j];
        mtf_groups.copy_within(0..j, 1);
        mtf_groups[0] = g;
        if selectors.len() < MAX_SELECTORS {
            selectors.push(g);
        }
    }

    let mut tables = Vec::with_capacity(n_groups);
    let mut lens = [0u8; 258];
    for _ in 0..n_groups {
        let mut len = bits.bits(5)?;
        for l in lens.iter_mut().take(alpha_size) {
            loop {
                if !(1..=MAX_CODE_LEN as u32).contains(&len) {
                    return Err(Kind::Corrupt("bad code length"));
                }
                if bits.bit()? == 0 {
                    break;
                }
                if bits.bit()? == 0 { len += 1 } else { len -= 1 }
            }
            *l = len as u8;
        }
        tables.push(Huffman::new(&lens[..alpha_size]));
    }

    // Huffman → RLE2 runs and MTF indices → the BWT-transformed block.
    tt.clear();
    let mut counts = [0usize; 256];
    let mut mtf: [u8; 256] = core::array::from_fn(|i| i as u8);
    let (mut run, mut weight) = (0usize, 1usize);
    let mut sel = 0;
    let mut left_in_group = 0;
    let mut table = &tables[0];
    loop {
        if left_in_group == 0 {
            let g = *selectors
                .get(sel)
                .ok_or(Kind::Corrupt("out of selectors"))?;
            table = tables
                .get(g as usize)
                .ok_or(Kind::Corrupt("bad selector"))?;
            sel += 1;
            left_in_group = 50;
        }
        left_in_group -= 1;
        let sym = table.decode(bits)?;
        if sym <= 1 {
            // RUNA/RUNB spell the run length in bijective base 2.
            run += weight << sym;
            weight <<= 1;
            if run > max_block {
                return Err(Kind::Corrupt("block too large"));
            }
            continue;
        }
        if run > 0 {
            let b = alphabet[mtf[0] as usize];
            if tt.len() + run > max_block {
                return Err(Kind::Corrupt("block too large"));
            }
            tt.resize(tt.len() + run, b as u32);
            counts[b as usize] += run;
            (run, weight) = (0, 1);
        }
        if sym == eob {
            break;
        }
        let j = sym - 1;
        let v = mtf[j];
        mtf.copy_within(0..j, 1);
        mtf[0] = v;
        let b = *alphabet
            .get(v as usize)
            .ok_or(Kind::Corrupt("bad symbol"))?;
        if tt.len() >= max_block {
            return Err(Kind::Corrupt("block too large"));
        }
        tt.push(b as u32);
        counts[b as usize] += 1;
    }
    if orig_ptr >= tt.len() {
        return Err(Kind::Corrupt("bad origin pointer"));
    }

    // Inverse BWT: link each position to its successor in the high bits.
    let mut next = [0usize; 256];
    let mut sum = 0;
    for (n, c) in next.iter_mut().zip(counts) {
        *n = sum;
        sum += c;
    }
    for i in 0..tt.len() {
        let b = (tt[i] & 0xff) as usize;
        tt[next[b]] |= (i as u32) << 8;
        next[b] += 1;
    }

    // Walk the chain, undoing RLE1 (4 equal bytes then a repeat count).
    let mut crc = !0u32;
    let mut pos = (tt[orig_ptr] >> 8) as usize;
    let (mut last, mut same) = (0u8, 0);
    for _ in 0..tt.len() {
        let t = tt[pos];
        pos = (t >> 8) as usize;
        let b = t as u8;
        if same == 4 {
            out.reserve(b as usize)?;
            for _ in 0..b {
                out.push(last)?;
                crc = crc32_msb_update(crc, last);
            }
            same = 0;
            continue;
        }
        if same > 0 && b == last {
            same += 1;
        } else {
            (last, same) = (b, 1);
        }
        out.push(b)?;
        crc = crc32_msb_update(crc, b);
    }
    Ok(!crc)
}
