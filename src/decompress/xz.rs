//! The xz container and legacy .lzma ("LZMA alone") files around our own
//! LZMA decoder (lzma.rs). Everything xz(1) verifies is verified here too:
//! header, block header and index CRC32s, the block check (CRC32 or
//! CRC64), declared sizes against actual ones, and the index against the
//! blocks, so corruption anywhere is reported rather than ignored.

use super::Kind;
use super::check::{crc32, crc64};
use super::lzma::{Lzma, Rc, lzma2, take};
use super::out::Out;

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
    // Our output buffer is the dictionary, so the header's dictionary size
    // needs no allocation of its own and only the output is bounded.
    let end = match size {
        u64::MAX => None,
        n if n > out.limit() as u64 => {
            out.overflowed = true;
            return Err(Kind::TooLarge(out.limit()));
        }
        n => Some(n as usize),
    };
    let mut rc = Rc::new(&d[13..])?;
    Lzma::new(d[0])?.decode(&mut rc, out, 0, end)
}

pub(crate) fn decode_xz(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    let mut pos = 0;
    loop {
        stream(d, &mut pos, out)?;
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

fn le32(s: &[u8]) -> u32 {
    u32::from_le_bytes([s[0], s[1], s[2], s[3]])
}

/// Zero padding up to a multiple of four bytes from `start`.
fn padding(d: &[u8], pos: &mut usize, start: usize) -> Result<(), Kind> {
    let n = (4 - (*pos - start) % 4) % 4;
    if take(d, pos, n)?.iter().any(|&b| b != 0) {
        return Err(Kind::Corrupt("nonzero padding"));
    }
    Ok(())
}

/// One xz stream starting at `*pos`, decoded into `out`.
fn stream(d: &[u8], pos: &mut usize, out: &mut Out) -> Result<(), Kind> {
    let header = take(d, pos, 12)?;
    if !header.starts_with(XZ_MAGIC) {
        return Err(Kind::Corrupt("bad magic"));
    }
    if header[6] != 0 || header[7] > 0x0f {
        return Err(Kind::Unsupported("stream flags"));
    }
    if crc32(0, &header[6..8]) != le32(&header[8..]) {
        return Err(Kind::Corrupt("header CRC mismatch"));
    }
    let check_len = match header[7] {
        0 => 0,
        1 => 4,
        4 => 8,
        // Not worth a SHA-256 implementation; say so instead of reporting
        // the file as corrupt.
        0x0a => return Err(Kind::Unsupported("integrity check (SHA-256)")),
        _ => return Err(Kind::Unsupported("integrity check type")),
    };
    // (unpadded size, uncompressed size) of each block, for the index.
    let mut records = Vec::new();
    loop {
        let block_start = *pos;
        let size_byte = *d.get(*pos).ok_or(Kind::Truncated)?;
        if size_byte == 0 {
            break;
        }
        let hdr = take(d, pos, (size_byte as usize + 1) * 4)?;
        let (body, crc) = hdr.split_at(hdr.len() - 4);
        if crc32(0, body) != le32(crc) {
            return Err(Kind::Corrupt("block header CRC mismatch"));
        }
        let flags = body[1];
        if flags & 0x3c != 0 {
            return Err(Kind::Unsupported("block flags"));
        }
        let mut hp = 2;
        let packed = if flags & 0x40 != 0 {
            Some(varint(body, &mut hp)?)
        } else {
            None
        };
        let unpacked = if flags & 0x80 != 0 {
            Some(varint(body, &mut hp)?)
        } else {
            None
        };
        // Only a lone LZMA2 filter (what xz writes unless asked for BCJ or
        // delta filters, which user-data has no use for).
        let filter = (varint(body, &mut hp)?, varint(body, &mut hp)?);
        if flags & 3 != 0 || filter != (0x21, 1) {
            return Err(Kind::Unsupported("filter"));
        }
        if take(body, &mut hp, 1)?[0] > 40 || body[hp..].iter().any(|&b| b != 0) {
            return Err(Kind::Corrupt("bad block header"));
        }
        let (data_start, out_start) = (*pos, out.len());
        lzma2(d, pos, out)?;
        let sizes = ((*pos - data_start) as u64, (out.len() - out_start) as u64);
        if packed.is_some_and(|n| n != sizes.0) || unpacked.is_some_and(|n| n != sizes.1) {
            return Err(Kind::Corrupt("block size mismatch"));
        }
        padding(d, pos, block_start)?;
        let check = take(d, pos, check_len)?;
        let data = out.as_slice().get(out_start..).unwrap_or_default();
        let ok = match check_len {
            4 => crc32(0, data).to_le_bytes()[..] == *check,
            8 => crc64(data).to_le_bytes()[..] == *check,
            _ => true,
        };
        if !ok {
            return Err(Kind::Corrupt("check mismatch"));
        }
        records.push((hdr.len() as u64 + sizes.0 + check_len as u64, sizes.1));
    }
    // Index: indicator, record count, records, padding, CRC32; then footer.
    let index_start = *pos;
    *pos += 1;
    if varint(d, pos)? != records.len() as u64 {
        return Err(Kind::Corrupt("index mismatch"));
    }
    for &(unpadded, size) in &records {
        if (varint(d, pos)?, varint(d, pos)?) != (unpadded, size) {
            return Err(Kind::Corrupt("index mismatch"));
        }
    }
    padding(d, pos, index_start)?;
    let index = &d[index_start..*pos];
    if crc32(0, index) != le32(take(d, pos, 4)?) {
        return Err(Kind::Corrupt("index CRC mismatch"));
    }
    let footer = take(d, pos, 12)?;
    if &footer[10..] != b"YZ" || footer[8..10] != header[6..8] {
        return Err(Kind::Corrupt("bad stream footer"));
    }
    if crc32(0, &footer[4..10]) != le32(footer) {
        return Err(Kind::Corrupt("footer CRC mismatch"));
    }
    if (le32(&footer[4..]) as u64 + 1) * 4 != index.len() as u64 + 4 {
        return Err(Kind::Corrupt("index size mismatch"));
    }
    Ok(())
}
