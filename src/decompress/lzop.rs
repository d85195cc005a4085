//! lzop files: the lzop header and block framing (with its optional
//! Adler-32/CRC-32 checks) and an LZO1X decoder, written from the format
//! description; LZO1X-1, LZO1X-1(15) and LZO1X-999 all share this bitstream.

use super::Kind;
use super::check::{adler32, crc32};
use super::out::Out;

const F_ADLER32_D: u32 = 0x0000_0001;
const F_ADLER32_C: u32 = 0x0000_0002;
const F_H_EXTRA_FIELD: u32 = 0x0000_0040;
const F_CRC32_D: u32 = 0x0000_0100;
const F_CRC32_C: u32 = 0x0000_0200;
const F_H_FILTER: u32 = 0x0000_0800;
const F_H_CRC32: u32 = 0x0000_1000;
/// lzop itself never writes blocks larger than this (MAX_BLOCK_SIZE).
const MAX_BLOCK: usize = 64 << 20;

struct Reader<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Kind> {
        let end = self.pos.checked_add(n).ok_or(Kind::Truncated)?;
        let s = self.d.get(self.pos..end).ok_or(Kind::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Kind> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Kind> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Kind> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub(crate) fn decode(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    let mut r = Reader { d, pos: 0 };
    if r.take(9)? != b"\x89LZO\0\r\n\x1a\n" {
        return Err(Kind::Corrupt("bad magic"));
    }
    let header_start = r.pos;
    let version = r.u16()?;
    r.u16()?; // library version
    if version >= 0x0940 {
        r.u16()?; // version needed to extract
    }
    let method = r.u8()?;
    if !(1..=3).contains(&method) {
        return Err(Kind::Unsupported("method"));
    }
    if version >= 0x0940 {
        r.u8()?; // level
    }
    let flags = r.u32()?;
    if flags & F_H_FILTER != 0 {
        return Err(Kind::Unsupported("filter"));
    }
    r.take(if version >= 0x0940 { 12 } else { 8 })?; // mode, mtime
    let name_len = r.u8()? as usize;
    r.take(name_len)?;
    let header = &d[header_start..r.pos];
    let sum = if flags & F_H_CRC32 != 0 {
        crc32(0, header)
    } else {
        adler32(header)
    };
    if r.u32()? != sum {
        return Err(Kind::Corrupt("header checksum mismatch"));
    }
    if flags & F_H_EXTRA_FIELD != 0 {
        let len = r.u32()? as usize;
        r.take(len)?;
        r.u32()?; // its checksum; the field itself is ignored
    }

    loop {
        let dst_len = r.u32()? as usize;
        if dst_len == 0 {
            break;
        }
        if dst_len > MAX_BLOCK {
            return Err(Kind::Corrupt("block too large"));
        }
        let src_len = r.u32()? as usize;
        if src_len == 0 || src_len > dst_len {
            return Err(Kind::Corrupt("bad block size"));
        }
        let d_adler = if flags & F_ADLER32_D != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let d_crc = if flags & F_CRC32_D != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let compressed = src_len < dst_len;
        let c_adler = if compressed && flags & F_ADLER32_C != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let c_crc = if compressed && flags & F_CRC32_C != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let src = r.take(src_len)?;
        if c_adler.is_some_and(|s| s != adler32(src)) || c_crc.is_some_and(|s| s != crc32(0, src)) {
            return Err(Kind::Corrupt("checksum mismatch"));
        }
        let start = out.len();
        if compressed {
            lzo1x(src, out, dst_len)?;
        } else {
            out.extend(src)?;
        }
        let block = &out.as_slice()[start..];
        if d_adler.is_some_and(|s| s != adler32(block))
            || d_crc.is_some_and(|s| s != crc32(0, block))
        {
            return Err(Kind::Corrupt("checksum mismatch"));
        }
    }
    if r.pos != d.len() {
        return Err(Kind::Corrupt("trailing garbage"));
    }
    Ok(())
}

/// A length that continues in following bytes: each zero byte adds 255,
/// the first non-zero byte ends it.
fn ext_len(s: &[u8], ip: &mut usize, base: usize) -> Result<usize, Kind> {
    let mut n = base;
    loop {
        let b = *s.get(*ip).ok_or(Kind::Truncated)?;
        *ip += 1;
        if b != 0 {
            return n
                .checked_add(b as usize)
                .ok_or(Kind::Corrupt("length overflow"));
        }
        n = n.checked_add(255).ok_or(Kind::Corrupt("length overflow"))?;
    }
}

fn literals(s: &[u8], ip: &mut usize, n: usize, out: &mut Out, end: usize) -> Result<(), Kind> {
    let lit = ip
        .checked_add(n)
        .and_then(|e| s.get(*ip..e))
        .ok_or(Kind::Truncated)?;
    if out.len() + n > end {
        return Err(Kind::Corrupt("block overrun"));
    }
    out.extend(lit)?;
    *ip += n;
    Ok(())
}

/// Decode one LZO1X block that must produce exactly `dst_len` bytes.
///
/// `state` is how many literals the previous instruction copied (0..=3),
/// or 4 after a long literal run; it decides what opcodes 0..15 mean.
fn lzo1x(s: &[u8], out: &mut Out, dst_len: usize) -> Result<(), Kind> {
    let floor = out.len();
    let end = floor + dst_len;
    let mut ip = 0;
    let mut state;
    // A first byte above 17 is a literal run with no preceding match.
    match s.first() {
        Some(&b) if b > 17 => {
            ip = 1;
            let n = (b - 17) as usize;
            literals(s, &mut ip, n, out, end)?;
            state = n.min(4);
        }
        _ => state = 0,
    }
    loop {
        let t = *s.get(ip).ok_or(Kind::Truncated)? as usize;
        ip += 1;
        let (len, dist, next);
        if t < 16 {
            if state == 0 {
                let n = if t == 0 {
                    ext_len(s, &mut ip, 18)?
                } else {
                    t + 3
                };
                literals(s, &mut ip, n, out, end)?;
                state = 4;
                continue;
            }
            let h = *s.get(ip).ok_or(Kind::Truncated)? as usize;
            ip += 1;
            if state == 4 {
                (len, dist) = (3, (h << 2) + (t >> 2) + 2049);
            } else {
                (len, dist) = (2, (h << 2) + (t >> 2) + 1);
            }
            next = t & 3;
        } else if t < 32 {
            let l = if t & 7 == 0 {
                ext_len(s, &mut ip, 7)?
            } else {
                t & 7
            };
            let w = s.get(ip..ip + 2).ok_or(Kind::Truncated)?;
            let w = u16::from_le_bytes([w[0], w[1]]) as usize;
            ip += 2;
            let d = 16384 + ((t & 8) << 11) + (w >> 2);
            if d == 16384 {
                // End of stream: it must consume the input and fill the block.
                if ip != s.len() || out.len() != end {
                    return Err(Kind::Corrupt("block size mismatch"));
                }
                return Ok(());
            }
            (len, dist, next) = (l + 2, d, w & 3);
        } else if t < 64 {
            let l = if t & 31 == 0 {
                ext_len(s, &mut ip, 31)?
            } else {
                t & 31
            };
            let w = s.get(ip..ip + 2).ok_or(Kind::Truncated)?;
            let w = u16::from_le_bytes([w[0], w[1]]) as usize;
            ip += 2;
            (len, dist, next) = (l + 2, (w >> 2) + 1, w & 3);
        } else {
            let h = *s.get(ip).ok_or(Kind::Truncated)? as usize;
            ip += 1;
            let l = if t < 128 {
                3 + ((t >> 5) & 1)
            } else {
                5 + ((t >> 5) & 3)
            };
            (len, dist, next) = (l, (h << 3) + ((t >> 2) & 7) + 1, t & 3);
        }
        if out.len() + len > end {
            return Err(Kind::Corrupt("block overrun"));
        }
        out.copy_match(dist, len, floor)?;
        literals(s, &mut ip, next, out, end)?;
        state = next;
    }
}
