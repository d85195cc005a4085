//! zstd (RFC 8878), decoded by ruzstd's frame decoder a few blocks at a
//! time so the output limit trips soon after it is passed (driving the
//! frame decoder directly rather than through its `io::Read` adapter links
//! less of the crate). Concatenated
//! and skippable frames are handled here, as is the optional content
//! checksum (ruzstd only verifies it with its `hash` feature, which would
//! pull in another crate for a few lines of xxHash64).

use super::Kind;
use super::check::xxh64;
use super::out::Out;
use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// zstd at default levels uses windows of at most 8 MiB even for small
/// inputs when it cannot know the size up front (streamed compression);
/// allowing that much keeps such files working under small limits, while
/// still refusing absurd windows whose buffers would be the real bomb.
const MIN_WINDOW: usize = 8 << 20;

pub(crate) fn decode(d: &[u8], out: &mut Out) -> Result<(), Kind> {
    let mut dec = FrameDecoder::new();
    dec.set_max_window_size(out.limit().max(MIN_WINDOW) as u64);
    if d.is_empty() {
        return Err(Kind::Truncated);
    }
    let mut rest = d;
    while !rest.is_empty() {
        let magic = rest.get(..4).ok_or(Kind::Truncated)?;
        let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
        if magic & 0xffff_fff0 == 0x184d_2a50 {
            let len = rest.get(4..8).ok_or(Kind::Truncated)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            rest = rest
                .get(8..)
                .and_then(|r| r.get(len..))
                .ok_or(Kind::Truncated)?;
            continue;
        }
        let frame_start = out.len();
        let mut src = rest;
        match dec.reset(&mut src) {
            Ok(()) => {}
            // Valid but needs more memory than we allow (zstd --long, --ultra).
            Err(FrameDecoderError::WindowSizeTooBig { .. }) => {
                return Err(Kind::Unsupported("window size"));
            }
            Err(_) if rest.len() < 18 => return Err(Kind::Truncated),
            Err(_) => return Err(Kind::Corrupt("invalid frame header")),
        }
        loop {
            let done = match dec.decode_blocks(&mut src, BlockDecodingStrategy::UptoBytes(1 << 15))
            {
                Ok(done) => done,
                Err(_) if src.is_empty() => return Err(Kind::Truncated),
                Err(_) => return Err(Kind::Corrupt("invalid block")),
            };
            if let Some(data) = dec.collect() {
                out.extend(&data)?;
            }
            if done {
                break;
            }
        }
        if let Some(want) = dec.get_checksum_from_data() {
            let frame = out.as_slice().get(frame_start..).unwrap_or_default();
            if xxh64(frame, 0) as u32 != want {
                return Err(Kind::Corrupt("checksum mismatch"));
            }
        }
        if src.len() >= rest.len() {
            return Err(Kind::Corrupt("no progress"));
        }
        rest = src;
    }
    Ok(())
}
