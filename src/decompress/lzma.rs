//! The LZMA decoder behind xz (LZMA2 chunks) and legacy .lzma files,
//! written from the format description (range coder, literal/match/rep
//! coding) rather than taken from a crate: it is a few hundred lines, and a
//! general-purpose crate cost ~50 KB of binary for the same job.
//!
//! Output goes straight into the bounded `Out`, which doubles as the
//! dictionary, so a bomb stops at the limit and memory never exceeds it.
//! Corrupt input can only produce an error or wrong bytes (which the xz
//! checks then catch): every index below is bounded by construction.

use super::Kind;
use super::out::Out;

/// The range decoder. Running off the end of its input feeds zeros and
/// records the overrun instead of failing each bit (which would cost a
/// branch and an error path per bit); the symbol loop checks it.
pub(crate) struct Rc<'a> {
    d: &'a [u8],
    pos: usize,
    range: u32,
    code: u32,
}

impl<'a> Rc<'a> {
    pub(crate) fn new(d: &'a [u8]) -> Result<Self, Kind> {
        let h = d.get(..5).ok_or(Kind::Truncated)?;
        if h[0] != 0 {
            return Err(Kind::Corrupt("bad range coder start"));
        }
        Ok(Rc {
            d,
            pos: 5,
            range: !0,
            code: u32::from_be_bytes([h[1], h[2], h[3], h[4]]),
        })
    }

    fn overrun(&self) -> bool {
        self.pos > self.d.len()
    }

    /// True when the encoder's flush has been read exactly: all input used
    /// and nothing left in the code register.
    pub(crate) fn finished(&self) -> bool {
        self.pos == self.d.len() && self.code == 0
    }

    fn normalize(&mut self) {
        if self.range < 1 << 24 {
            let b = self.d.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            self.range <<= 8;
            self.code = (self.code << 8) | b as u32;
        }
    }

    fn bit(&mut self, p: &mut u16) -> usize {
        // p stays within 31..=2017, so bound <= range and nothing wraps.
        let bound = (self.range >> 11) * *p as u32;
        let b = if self.code < bound {
            self.range = bound;
            *p += (2048 - *p) >> 5;
            0
        } else {
            self.range -= bound;
            self.code -= bound;
            *p -= *p >> 5;
            1
        };
        self.normalize();
        b
    }

    fn direct(&mut self, n: u32) -> u32 {
        let mut v = 0;
        for _ in 0..n {
            self.range >>= 1;
            let b = self.code >= self.range;
            if b {
                self.code -= self.range;
            }
            v = (v << 1) | b as u32;
            self.normalize();
        }
        v
    }
}

// Offsets into the one probability array (fewer allocations and less code
// than a struct of arrays). Length coders are choice, choice2, low[16][8],
// mid[16][8], high[256].
const IS_MATCH: usize = 0;
const IS_REP: usize = IS_MATCH + 192;
const IS_REP0: usize = IS_REP + 12;
const IS_REP1: usize = IS_REP0 + 12;
const IS_REP2: usize = IS_REP1 + 12;
const IS_REP0_LONG: usize = IS_REP2 + 12;
const DIST_SLOT: usize = IS_REP0_LONG + 192;
const DIST_SPECIAL: usize = DIST_SLOT + 256;
const ALIGN: usize = DIST_SPECIAL + 115;
const MATCH_LEN: usize = ALIGN + 16;
const REP_LEN: usize = MATCH_LEN + 514;
const LITERAL: usize = REP_LEN + 514;

pub(crate) struct Lzma {
    lc: usize,
    lp_mask: usize,
    pb_mask: usize,
    probs: Vec<u16>,
    state: usize,
    reps: [u32; 4],
}

impl Lzma {
    /// From the properties byte (pb * 5 + lp) * 9 + lc. lc + lp is capped at
    /// 4, as LZMA2 requires, which keeps the literal tables small.
    pub(crate) fn new(props: u8) -> Result<Self, Kind> {
        let props = props as usize;
        let (lc, lp, pb) = (props % 9, props / 9 % 5, props / 45);
        if pb > 4 || lc + lp > 4 {
            return Err(Kind::Corrupt("bad LZMA properties"));
        }
        Ok(Lzma {
            lc,
            lp_mask: (1 << lp) - 1,
            pb_mask: (1 << pb) - 1,
            probs: vec![1024; LITERAL + (0x300 << (lc + lp))],
            state: 0,
            reps: [0; 4],
        })
    }

    pub(crate) fn reset(&mut self) {
        self.probs.fill(1024);
        self.state = 0;
        self.reps = [0; 4];
    }

    /// `bits`-bit symbol, most significant bit first.
    fn tree(&mut self, rc: &mut Rc, base: usize, bits: u32) -> usize {
        let mut m = 1;
        for _ in 0..bits {
            m = (m << 1) | rc.bit(&mut self.probs[base + m]);
        }
        m - (1 << bits)
    }

    /// `bits`-bit symbol, least significant bit first.
    fn reverse(&mut self, rc: &mut Rc, base: usize, bits: u32) -> u32 {
        let (mut m, mut v) = (1, 0);
        for i in 0..bits {
            let b = rc.bit(&mut self.probs[base + m]);
            m = (m << 1) | b;
            v |= (b as u32) << i;
        }
        v
    }

    fn len(&mut self, rc: &mut Rc, base: usize, pos_state: usize) -> usize {
        if rc.bit(&mut self.probs[base]) == 0 {
            2 + self.tree(rc, base + 2 + pos_state * 8, 3)
        } else if rc.bit(&mut self.probs[base + 1]) == 0 {
            10 + self.tree(rc, base + 130 + pos_state * 8, 3)
        } else {
            18 + self.tree(rc, base + 258, 8)
        }
    }

    /// Match distance minus one; u32::MAX is the end marker.
    fn distance(&mut self, rc: &mut Rc, len: usize) -> u32 {
        let slot = self.tree(rc, DIST_SLOT + (len - 2).min(3) * 64, 6) as u32;
        if slot < 4 {
            return slot;
        }
        let n = (slot >> 1) - 1;
        let dist = (2 | (slot & 1)) << n;
        if slot < 14 {
            dist + self.reverse(rc, DIST_SPECIAL + (dist - slot) as usize, n)
        } else {
            dist + (rc.direct(n - 4) << 4) + self.reverse(rc, ALIGN, 4)
        }
    }

    /// Decode into `out` until it reaches `end`, or (with no end) until the
    /// end marker. Nothing before `floor` (the last dictionary reset) may
    /// be referenced.
    pub(crate) fn decode(
        &mut self,
        rc: &mut Rc,
        out: &mut Out,
        floor: usize,
        end: Option<usize>,
    ) -> Result<(), Kind> {
        loop {
            if rc.overrun() {
                return Err(Kind::Truncated);
            }
            let now = out.len();
            if Some(now) == end {
                return Ok(());
            }
            let pos = now - floor;
            let ps = pos & self.pb_mask;
            let s = self.state;
            if rc.bit(&mut self.probs[IS_MATCH + s * 16 + ps]) == 0 {
                let prev = match pos {
                    0 => 0,
                    _ => out.as_slice()[now - 1] as usize,
                };
                let base =
                    LITERAL + 0x300 * (((pos & self.lp_mask) << self.lc) + (prev >> (8 - self.lc)));
                let mut sym = 1;
                if s >= 7 {
                    // After a match the byte at rep0 predicts this one.
                    let back = self.reps[0] as usize + 1;
                    let mut mb = match pos.checked_sub(back) {
                        Some(_) => out.as_slice()[now - back] as usize,
                        None => return Err(Kind::Corrupt("match distance out of range")),
                    };
                    while sym < 0x100 {
                        let m = (mb >> 7) & 1;
                        mb <<= 1;
                        let b = rc.bit(&mut self.probs[base + ((1 + m) << 8) + sym]);
                        sym = (sym << 1) | b;
                        if m != b {
                            break;
                        }
                    }
                }
                while sym < 0x100 {
                    sym = (sym << 1) | rc.bit(&mut self.probs[base + sym]);
                }
                out.push(sym as u8)?;
                self.state = match s {
                    0..4 => 0,
                    4..10 => s - 3,
                    _ => s - 6,
                };
                continue;
            }
            let len;
            if rc.bit(&mut self.probs[IS_REP + s]) == 0 {
                len = self.len(rc, MATCH_LEN, ps);
                self.state = if s < 7 { 7 } else { 10 };
                let dist = self.distance(rc, len);
                if dist == u32::MAX {
                    // The end marker: only legal without a known size, and
                    // the range coder must end cleanly after it.
                    return match end {
                        None if rc.overrun() => Err(Kind::Truncated),
                        None if rc.finished() => Ok(()),
                        _ => Err(Kind::Corrupt("unexpected end marker")),
                    };
                }
                let [r0, r1, r2, _] = self.reps;
                self.reps = [dist, r0, r1, r2];
            } else {
                let [r0, r1, r2, r3] = self.reps;
                if rc.bit(&mut self.probs[IS_REP0 + s]) == 0 {
                    if rc.bit(&mut self.probs[IS_REP0_LONG + s * 16 + ps]) == 0 {
                        self.state = if s < 7 { 9 } else { 11 };
                        out.copy_match(r0 as usize + 1, 1, floor)?;
                        continue;
                    }
                } else if rc.bit(&mut self.probs[IS_REP1 + s]) == 0 {
                    self.reps = [r1, r0, r2, r3];
                } else if rc.bit(&mut self.probs[IS_REP2 + s]) == 0 {
                    self.reps = [r2, r0, r1, r3];
                } else {
                    self.reps = [r3, r0, r1, r2];
                }
                len = self.len(rc, REP_LEN, ps);
                self.state = if s < 7 { 8 } else { 11 };
            }
            if end.is_some_and(|end| len > end - now) {
                return Err(Kind::Corrupt("match past end of chunk"));
            }
            out.copy_match(self.reps[0] as usize + 1, len, floor)?;
        }
    }
}

/// The LZMA2 chunks of one xz block, from `*pos` up to and including the
/// end-of-block control byte.
pub(crate) fn lzma2(d: &[u8], pos: &mut usize, out: &mut Out) -> Result<(), Kind> {
    let mut lz: Option<Lzma> = None;
    let mut floor = out.len();
    let mut need_dict_reset = true;
    loop {
        let control = take(d, pos, 1)?[0];
        if control == 0 {
            return Ok(());
        }
        if control == 1 || control >= 0xe0 {
            floor = out.len();
            need_dict_reset = false;
            // As in xz: after a dictionary reset the next LZMA chunk must
            // bring its own properties.
            lz = None;
        } else if need_dict_reset {
            return Err(Kind::Corrupt("missing LZMA2 dictionary reset"));
        }
        if control < 0x80 {
            if control > 2 {
                return Err(Kind::Corrupt("bad LZMA2 chunk"));
            }
            let s = take(d, pos, 2)?;
            let n = u16::from_be_bytes([s[0], s[1]]) as usize + 1;
            out.extend(take(d, pos, n)?)?;
            continue;
        }
        let s = take(d, pos, 4)?;
        let unpacked =
            ((control as usize & 0x1f) << 16) + u16::from_be_bytes([s[0], s[1]]) as usize + 1;
        let packed = u16::from_be_bytes([s[2], s[3]]) as usize + 1;
        if control >= 0xc0 {
            lz = Some(Lzma::new(take(d, pos, 1)?[0])?);
        } else if control >= 0xa0 {
            if let Some(lz) = lz.as_mut() {
                lz.reset();
            }
        }
        let Some(lz) = lz.as_mut() else {
            return Err(Kind::Corrupt("missing LZMA2 properties"));
        };
        let mut rc = Rc::new(take(d, pos, packed)?)?;
        let end = out.len() + unpacked;
        if end > out.limit() {
            out.overflowed = true;
            return Err(Kind::TooLarge(out.limit()));
        }
        lz.decode(&mut rc, out, floor, Some(end))?;
        if !rc.finished() {
            return Err(Kind::Corrupt("LZMA2 chunk size mismatch"));
        }
    }
}

/// Bytes of `d` at `*pos`, advancing; truncation if there are not enough.
pub(crate) fn take<'a>(d: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], Kind> {
    let end = pos.checked_add(n).ok_or(Kind::Truncated)?;
    let s = d.get(*pos..end).ok_or(Kind::Truncated)?;
    *pos = end;
    Ok(s)
}
