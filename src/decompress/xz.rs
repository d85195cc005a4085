//! xz and legacy .lzma ("LZMA alone"), decoded by lzma-rs.
//!
//! lzma-rs buffers a whole xz block in memory before writing any of it, so
//! an output limit on the writer alone would not stop a bomb from
//! allocating gigabytes. Before handing a stream to lzma-rs we therefore
//! walk its structure (block headers and LZMA2 chunk headers, which carry
//! the unpacked size of every chunk) and refuse it if the sizes add up to
//! more than the limit; lzma-rs stops each chunk at its declared size, so
//! the sum is a hard bound. Peak memory is then at most about three times
//! the limit (lzma-rs's window, its block copy, and our output).

use super::Kind;
use super::check::crc32;
use super::out::Out;
use lzma_rs::decompress::{Options, UnpackedSize};

const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// The "alone" format has no magic, so only accept headers that the xz and
/// lzma tools actually produce: properties lc=3 lp=0 pb=2 (0x5d), a
/// dictionary of 2^n or 2^n + 2^(n-1) bytes, and a plausible size. Text
/// starting with ']' essentially never passes this.
pub(crate) fn looks_like_lzma(d: &[u8]) -> bool {
    let Some(h) = d.get(..13) else { return false };
    if h[0] != 0x5d {
        return false;
    }
    let dict = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
    let size = u64::from_le_bytes([h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12]]);
    let low = dict & dict.wrapping_neg();
    let dict_ok = dict >= 1 << 12 && (dict == low || dict == low * 3);
    dict_ok && (size == u64::MAX || size < 1 << 40)
}

pub(crate) fn decode_lzma(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    if !looks_like_lzma(d) {
        return Err(Kind::Corrupt("bad header"));
    }
    let size = u64::from_le_bytes([d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12]]);
    if size != u64::MAX && size > out.limit() as u64 {
        out.overflowed = true;
        return Err(Kind::TooLarge(out.limit()));
    }
    // The dictionary buffer only grows as output is produced and is flushed
    // to `out` when full, so capping it at the limit bounds memory too; its
    // "exceeded memory limit" error then means the output is too large.
    let opts = Options {
        unpacked_size: UnpackedSize::ReadFromHeader,
        memlimit: Some(out.limit()),
        allow_incomplete: false,
    };
    let mut input = d;
    let r = lzma_rs::lzma_decompress_with_options(&mut input, out, &opts);
    map_result(r, input.is_empty(), out)
}

fn map_result(r: lzma_rs::error::Result<()>, at_eof: bool, out: &Out) -> Result<(), Kind> {
    match r {
        Ok(()) => Ok(()),
        Err(_) if out.overflowed => Err(Kind::TooLarge(out.limit())),
        Err(lzma_rs::error::Error::LzmaError(msg)) if msg.contains("memory limit") => {
            Err(Kind::TooLarge(out.limit()))
        }
        Err(_) if at_eof => Err(Kind::Truncated),
        Err(_) => Err(Kind::Corrupt("invalid stream")),
    }
}

pub(crate) fn decode_xz(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    let mut pos = 0;
    loop {
        let stream = d.get(pos..).unwrap_or_default();
        let len = match scan_stream(stream, out.limit() - out.len()) {
            Err(Kind::TooLarge(_)) => {
                out.overflowed = true;
                return Err(Kind::TooLarge(out.limit()));
            }
            r => r?,
        };
        let mut input = &stream[..len];
        let r = lzma_rs::xz_decompress(&mut input, out);
        map_result(r, input.is_empty(), out)?;
        pos += len;
        // Stream padding is zeros in multiples of four, then maybe another
        // stream (xz(1) decodes concatenated streams).
        while d.get(pos..pos + 4) == Some(&[0; 4]) {
            pos += 4;
        }
        if pos == d.len() {
            return Ok(());
        }
        if !d[pos..].starts_with(XZ_MAGIC) {
            return Err(Kind::Corrupt("trailing garbage"));
        }
    }
}

/// Bytes of `d` at `*pos`, advancing; truncation if there are not enough.
fn take<'a>(d: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], Kind> {
    let end = pos.checked_add(n).ok_or(Kind::Truncated)?;
    let s = d.get(*pos..end).ok_or(Kind::Truncated)?;
    *pos = end;
    Ok(s)
}

fn varint(d: &[u8], pos: &mut usize) -> Result<u64, Kind> {
    let mut v = 0u64;
    for i in 0..9 {
        let b = take(d, pos, 1)?[0];
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Kind::Corrupt("bad integer"))
}

/// Length of the xz stream at the start of `d`, after checking that its
/// declared chunk sizes fit in `budget`.
fn scan_stream(d: &[u8], budget: usize) -> Result<usize, Kind> {
    let mut pos = 0;
    let header = take(d, &mut pos, 12)?;
    if !header.starts_with(XZ_MAGIC) {
        return Err(Kind::Corrupt("bad magic"));
    }
    if header[6] != 0 || header[7] > 0x0f {
        return Err(Kind::Unsupported("stream flags"));
    }
    if crc32(0, &header[6..8]).to_le_bytes() != header[8..12] {
        return Err(Kind::Corrupt("header CRC mismatch"));
    }
    // lzma-rs verifies CRC32 and CRC64 but not SHA-256 (xz -C sha256); say
    // so instead of reporting the file as corrupt.
    let check_len = match header[7] {
        0 => 0,
        1 => 4,
        4 => 8,
        0x0a => return Err(Kind::Unsupported("integrity check (SHA-256)")),
        _ => return Err(Kind::Unsupported("integrity check type")),
    };
    let mut total = 0usize;
    loop {
        let block_start = pos;
        let size_byte = *d.get(pos).ok_or(Kind::Truncated)?;
        if size_byte == 0 {
            break;
        }
        let hdr = take(d, &mut pos, (size_byte as usize + 1) * 4)?;
        let mut hp = 1;
        let flags = *hdr.get(hp).ok_or(Kind::Truncated)?;
        hp += 1;
        if flags & 0x40 != 0 {
            varint(hdr, &mut hp)?;
        }
        if flags & 0x80 != 0 {
            varint(hdr, &mut hp)?;
        }
        let mut last_filter = 0;
        for _ in 0..=(flags & 3) {
            last_filter = varint(hdr, &mut hp)?;
            let props = varint(hdr, &mut hp)?;
            take(
                hdr,
                &mut hp,
                usize::try_from(props).map_err(|_| Kind::Truncated)?,
            )?;
        }
        if last_filter != 0x21 {
            return Err(Kind::Unsupported("filter"));
        }
        loop {
            let control = take(d, &mut pos, 1)?[0];
            let (unpacked, skip) = match control {
                0 => break,
                1 | 2 => {
                    let s = take(d, &mut pos, 2)?;
                    let n = u16::from_be_bytes([s[0], s[1]]) as usize + 1;
                    (n, n)
                }
                0x80.. => {
                    let s = take(d, &mut pos, 4)?;
                    let u = ((control as usize & 0x1f) << 16)
                        + u16::from_be_bytes([s[0], s[1]]) as usize;
                    let p = u16::from_be_bytes([s[2], s[3]]) as usize + 1;
                    (u + 1, p + usize::from(control >= 0xc0))
                }
                _ => return Err(Kind::Corrupt("bad LZMA2 chunk")),
            };
            total += unpacked;
            if total > budget {
                // The caller substitutes the real limit.
                return Err(Kind::TooLarge(budget));
            }
            take(d, &mut pos, skip)?;
        }
        let padding = (4 - (pos - block_start) % 4) % 4;
        take(d, &mut pos, padding + check_len)?;
    }
    // Index: indicator, record count, records, padding, CRC32; then footer.
    let index_start = pos;
    pos += 1;
    let records = varint(d, &mut pos)?;
    for _ in 0..records {
        varint(d, &mut pos)?;
        varint(d, &mut pos)?;
    }
    let padding = (4 - (pos - index_start) % 4) % 4;
    take(d, &mut pos, padding + 4)?;
    let index_len = (pos - index_start) as u64;
    let footer = take(d, &mut pos, 12)?;
    if &footer[10..] != b"YZ" || footer[8..10] != header[6..8] {
        return Err(Kind::Corrupt("bad stream footer"));
    }
    if crc32(0, &footer[4..10]).to_le_bytes() != footer[..4] {
        return Err(Kind::Corrupt("footer CRC mismatch"));
    }
    // lzma-rs computes (backward_size + 1) * 4 in u32, which overflows (a
    // panic in debug builds) on a crafted footer: check it here first.
    let backward = u32::from_le_bytes([footer[4], footer[5], footer[6], footer[7]]);
    if (backward as u64 + 1) * 4 != index_len {
        return Err(Kind::Corrupt("index size mismatch"));
    }
    Ok(pos)
}
