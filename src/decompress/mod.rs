//! Decompression of user-data blobs.
//!
//! Cloud user-data is often shipped compressed (cloud-init accepts gzip, and
//! people use whatever their tooling emits), so `save_userdata` recognises the
//! common formats by their magic bytes and unpacks them in-process: first boot
//! must not depend on external tools being installed. The input is untrusted,
//! so every decoder is bounded by an output limit and must fail cleanly (never
//! panic, never spin) on corrupt or truncated data.

mod bzip2;
mod check;
mod gzip;
mod lz4;
mod lzma;
mod lzop;
mod out;
mod xz;
mod zstd;

#[cfg(test)]
mod tests;

use std::fmt;

/// A compression format recognised by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Bzip2,
    Xz,
    Lzma,
    Lzop,
    Lz4,
    Zstd,
}

impl Format {
    /// The conventional lowercase name (as the command-line tools spell it).
    pub fn name(&self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Bzip2 => "bzip2",
            Format::Xz => "xz",
            Format::Lzma => "lzma",
            Format::Lzop => "lzop",
            Format::Lz4 => "lz4",
            Format::Zstd => "zstd",
        }
    }
}

/// Why decoding failed, without the format (kept separate so the decoders
/// do not have to thread the format through every helper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Truncated,
    Corrupt(&'static str),
    Unsupported(&'static str),
    TooLarge(usize),
}

/// A decompression failure; its `Display` is one line naming the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    format: Format,
    kind: Kind,
}

impl Error {
    pub fn format(&self) -> Format {
        self.format
    }

    /// True when the data was fine but larger than the caller's limit.
    pub fn is_too_large(&self) -> bool {
        matches!(self.kind, Kind::TooLarge(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format.name())?;
        match self.kind {
            Kind::Truncated => f.write_str(": truncated input"),
            Kind::Corrupt(why) => write!(f, ": corrupt data ({why})"),
            Kind::Unsupported(what) => write!(f, ": unsupported {what}"),
            // Limits are normally whole MiB; say so in the unit people use.
            Kind::TooLarge(limit) if limit >= 1 << 20 && limit % (1 << 20) == 0 => {
                write!(f, ": output exceeds the {} MiB limit", limit >> 20)
            }
            Kind::TooLarge(limit) => write!(f, ": output exceeds the {limit} byte limit"),
        }
    }
}

impl std::error::Error for Error {}

/// Identify the compression format of `data` from its first bytes.
pub fn detect(data: &[u8]) -> Option<Format> {
    const LZOP: &[u8] = &[0x89, b'L', b'Z', b'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a];
    if data.starts_with(&[0x1f, 0x8b]) {
        Some(Format::Gzip)
    } else if data.starts_with(b"BZh") {
        Some(Format::Bzip2)
    } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Format::Xz)
    } else if data.starts_with(LZOP) {
        Some(Format::Lzop)
    } else if data.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        Some(Format::Lz4)
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Format::Zstd)
    } else if xz::looks_like_lzma(data) {
        Some(Format::Lzma)
    } else {
        None
    }
}

/// Decompress `data` as `format`, failing if the output would exceed `limit`.
pub fn decompress(format: Format, data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let mut out = out::Out::new(limit);
    let result = match format {
        Format::Gzip => gzip::decode(data, &mut out),
        Format::Bzip2 => bzip2::decode(data, &mut out),
        Format::Xz => xz::decode_xz(data, &mut out),
        Format::Lzma => xz::decode_lzma(data, &mut out),
        Format::Lzop => lzop::decode(data, &mut out),
        Format::Lz4 => lz4::decode(data, &mut out),
        Format::Zstd => zstd::decode(data, &mut out),
    };
    match result {
        Ok(()) => Ok(out.into_vec()),
        Err(kind) => Err(Error { format, kind }),
    }
}

/// Decompress `data` if it starts with a known magic; otherwise return it as
/// is (`limit` bounds only decompressed output: capping what was fetched is
/// the caller's job).
pub fn maybe_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    match detect(data) {
        Some(format) => decompress(format, data, limit),
        None => Ok(data.to_vec()),
    }
}
