//! LZ4 frame format (lz4(1) files): frame descriptor, blocks with optional
//! block checksums, optional content size and content checksum, skippable
//! and concatenated frames; plus the LZ4 block decoder itself, which is
//! small enough that a crate would cost more than it saves.

use super::Kind;
use super::check::xxh32;
use super::out::Out;

const MAGIC: u32 = 0x184d_2204;

fn le32(d: &[u8], pos: &mut usize) -> Result<u32, Kind> {
    let b = d.get(*pos..*pos + 4).ok_or(Kind::Truncated)?;
    *pos += 4;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn decode(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    if d.is_empty() {
        return Err(Kind::Truncated);
    }
    let mut pos = 0;
    while pos < d.len() {
        let magic = le32(d, &mut pos)?;
        if magic & 0xffff_fff0 == 0x184d_2a50 {
            let len = le32(d, &mut pos)? as usize;
            pos = pos
                .checked_add(len)
                .filter(|&p| p <= d.len())
                .ok_or(Kind::Truncated)?;
            continue;
        }
        if magic != MAGIC {
            return Err(Kind::Corrupt("bad frame magic"));
        }
        pos = frame(d, pos, out)?;
    }
    Ok(())
}

/// Decode one frame whose descriptor starts at `pos`; returns the end.
fn frame(d: &[u8], mut pos: usize, out: &mut Out) -> Result<usize, Kind> {
    let desc_start = pos;
    let fd = d.get(pos..pos + 2).ok_or(Kind::Truncated)?;
    let (flg, bd) = (fd[0], fd[1]);
    pos += 2;
    if flg >> 6 != 1 {
        return Err(Kind::Unsupported("frame version"));
    }
    if flg & 0x02 != 0 || bd & 0x8f != 0 {
        return Err(Kind::Corrupt("reserved bits set"));
    }
    let independent = flg & 0x20 != 0;
    let block_checksum = flg & 0x10 != 0;
    let content_checksum = flg & 0x04 != 0;
    let block_max = match bd >> 4 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return Err(Kind::Corrupt("bad block size")),
    };
    let mut content_size = None;
    if flg & 0x08 != 0 {
        let b = d.get(pos..pos + 8).ok_or(Kind::Truncated)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        content_size = Some(u64::from_le_bytes(w));
        pos += 8;
    }
    if flg & 0x01 != 0 {
        return Err(Kind::Unsupported("dictionary"));
    }
    let hc = *d.get(pos).ok_or(Kind::Truncated)?;
    if (xxh32(&d[desc_start..pos], 0) >> 8) as u8 != hc {
        return Err(Kind::Corrupt("header checksum mismatch"));
    }
    pos += 1;
    if let Some(size) = content_size {
        if size > (out.limit() - out.len()) as u64 {
            out.overflowed = true;
            return Err(Kind::TooLarge(out.limit()));
        }
    }

    let frame_start = out.len();
    loop {
        let word = le32(d, &mut pos)?;
        if word == 0 {
            break;
        }
        let size = (word & 0x7fff_ffff) as usize;
        if size > block_max {
            return Err(Kind::Corrupt("block too large"));
        }
        let block = d.get(pos..pos + size).ok_or(Kind::Truncated)?;
        pos += size;
        if block_checksum && le32(d, &mut pos)? != xxh32(block, 0) {
            return Err(Kind::Corrupt("block checksum mismatch"));
        }
        let block_start = out.len();
        if word & 0x8000_0000 != 0 {
            out.extend(block)?;
        } else {
            // Dependent blocks may refer back into earlier output of the
            // same frame; independent ones only into themselves.
            let floor = if independent {
                block_start
            } else {
                frame_start
            };
            block_decode(block, out, floor)?;
        }
        if out.len() - block_start > block_max {
            return Err(Kind::Corrupt("block too large"));
        }
    }
    let produced = &out.as_slice()[frame_start..];
    if content_size.is_some_and(|s| s != produced.len() as u64) {
        return Err(Kind::Corrupt("content size mismatch"));
    }
    if content_checksum && le32(d, &mut pos)? != xxh32(produced, 0) {
        return Err(Kind::Corrupt("content checksum mismatch"));
    }
    Ok(pos)
}

/// Length fields continue with 255-valued bytes until a smaller one.
fn ext_len(b: &[u8], pos: &mut usize, mut n: usize) -> Result<usize, Kind> {
    loop {
        let x = *b.get(*pos).ok_or(Kind::Truncated)?;
        *pos += 1;
        n = n
            .checked_add(x as usize)
            .ok_or(Kind::Corrupt("length overflow"))?;
        if x != 255 {
            return Ok(n);
        }
    }
}

/// One LZ4 block: sequences of literals then a match; the last sequence
/// has literals only.
fn block_decode(b: &[u8], out: &mut Out, floor: usize) -> Result<(), Kind> {
    let mut pos = 0;
    loop {
        let token = *b.get(pos).ok_or(Kind::Corrupt("empty block"))?;
        pos += 1;
        let mut lit = (token >> 4) as usize;
        if lit == 15 {
            lit = ext_len(b, &mut pos, lit)?;
        }
        let end = pos
            .checked_add(lit)
            .ok_or(Kind::Corrupt("length overflow"))?;
        out.extend(
            b.get(pos..end)
                .ok_or(Kind::Corrupt("literals past block end"))?,
        )?;
        pos = end;
        if pos == b.len() {
            return Ok(());
        }
        let off = b
            .get(pos..pos + 2)
            .ok_or(Kind::Corrupt("truncated match"))?;
        let dist = u16::from_le_bytes([off[0], off[1]]) as usize;
        pos += 2;
        let mut len = (token & 15) as usize;
        if len == 15 {
            len = ext_len(b, &mut pos, len)?;
        }
        out.copy_match(dist, len + 4, floor)?;
    }
}
