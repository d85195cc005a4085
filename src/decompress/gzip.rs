//! gzip (RFC 1952): member headers and trailers are parsed here, the raw
//! deflate data is inflated by miniz_oxide. Concatenated members decode to
//! the concatenation of their contents, as gzip(1) does.

use super::Kind;
use super::check::crc32;
use super::out::Out;
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
/// Power of two and at least the 32 KiB deflate window, as the wrapping
/// output mode of miniz_oxide requires.
const RING: usize = 1 << 15;

pub(crate) fn decode(data: &[u8], out: &mut Out) -> Result<(), Kind> {
    let mut ring = vec![0u8; RING];
    let mut inflater = Box::<DecompressorOxide>::default();
    let mut rest = data;
    loop {
        let body = header_len(rest)?;
        rest = &rest[body..];
        inflater.init();
        let start = out.len();
        let used = inflate(&mut inflater, rest, &mut ring, out)?;
        rest = &rest[used..];
        let trailer = rest.get(..8).ok_or(Kind::Truncated)?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let member = &out.as_slice()[start..];
        if crc32(0, member) != crc {
            return Err(Kind::Corrupt("CRC mismatch"));
        }
        // ISIZE is the length modulo 2^32 by definition.
        if member.len() as u32 != isize {
            return Err(Kind::Corrupt("length mismatch"));
        }
        rest = &rest[8..];
        // gzip(1) tolerates zero padding after the last member (tape
        // blocking, fixed-size metadata disks); anything else is suspect.
        if rest.iter().all(|&b| b == 0) {
            return Ok(());
        }
        if !rest.starts_with(&[0x1f, 0x8b]) {
            return Err(Kind::Corrupt("trailing garbage"));
        }
    }
}

/// Validate a member header and return its length.
fn header_len(d: &[u8]) -> Result<usize, Kind> {
    let fixed = d.get(..10).ok_or(Kind::Truncated)?;
    if fixed[0] != 0x1f || fixed[1] != 0x8b {
        return Err(Kind::Corrupt("bad magic"));
    }
    if fixed[2] != 8 {
        return Err(Kind::Unsupported("compression method"));
    }
    let flags = fixed[3];
    if flags & 0xe0 != 0 {
        return Err(Kind::Corrupt("reserved header flags set"));
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = d.get(pos..pos + 2).ok_or(Kind::Truncated)?;
        pos += 2 + u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
        if pos > d.len() {
            return Err(Kind::Truncated);
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let nul = d[pos..]
                .iter()
                .position(|&b| b == 0)
                .ok_or(Kind::Truncated)?;
            pos += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        let want = d.get(pos..pos + 2).ok_or(Kind::Truncated)?;
        let want = u16::from_le_bytes([want[0], want[1]]);
        if crc32(0, &d[..pos]) as u16 != want {
            return Err(Kind::Corrupt("header CRC mismatch"));
        }
        pos += 2;
    }
    Ok(pos)
}

/// Inflate one raw deflate stream into `out`; returns the input consumed.
fn inflate(
    inflater: &mut DecompressorOxide,
    input: &[u8],
    ring: &mut [u8],
    out: &mut Out,
) -> Result<usize, Kind> {
    let mut consumed = 0;
    let mut pos = 0;
    loop {
        let rest = input.get(consumed..).unwrap_or_default();
        // No HAS_MORE_INPUT flag: the whole member is in memory, so running
        // out of input really is truncation.
        let (status, used, written) = decompress(inflater, rest, ring, pos, 0);
        consumed += used;
        let produced = ring
            .get(pos..pos + written)
            .ok_or(Kind::Corrupt("inflate"))?;
        out.extend(produced)?;
        pos = (pos + written) & (RING - 1);
        match status {
            TINFLStatus::Done => return Ok(consumed),
            // Guards against spinning should the inflater ever stall.
            TINFLStatus::HasMoreOutput if used > 0 || written > 0 => {}
            TINFLStatus::HasMoreOutput => return Err(Kind::Corrupt("inflate stalled")),
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(Kind::Truncated);
            }
            _ => return Err(Kind::Corrupt("invalid deflate data")),
        }
    }
}
