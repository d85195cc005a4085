//! The bounded output buffer every decoder writes into.
//!
//! Centralising the limit here means no decoder can forget it, and growing
//! the allocation by hand keeps a bomb from reserving more than `limit`
//! bytes (plain `Vec` doubling could reserve up to twice the limit).

use super::Kind;
use std::io;

pub(crate) struct Out {
    buf: Vec<u8>,
    limit: usize,
    /// Set when a write through `io::Write` hit the limit, so the caller can
    /// tell "too large" apart from whatever error the crate reports for it.
    pub(crate) overflowed: bool,
}

impl Out {
    pub(crate) fn new(limit: usize) -> Self {
        Out {
            buf: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Make room for `n` more bytes, or fail if that would pass the limit.
    pub(crate) fn reserve(&mut self, n: usize) -> Result<(), Kind> {
        let len = self.buf.len();
        let need = match len.checked_add(n) {
            Some(need) if need <= self.limit => need,
            _ => {
                self.overflowed = true;
                return Err(Kind::TooLarge(self.limit));
            }
        };
        if need > self.buf.capacity() {
            let target = need.max(self.buf.capacity().saturating_mul(2).min(self.limit));
            self.buf.reserve_exact(target - len);
        }
        Ok(())
    }

    pub(crate) fn extend(&mut self, data: &[u8]) -> Result<(), Kind> {
        self.reserve(data.len())?;
        self.buf.extend_from_slice(data);
        Ok(())
    }

    pub(crate) fn push(&mut self, byte: u8) -> Result<(), Kind> {
        self.reserve(1)?;
        self.buf.push(byte);
        Ok(())
    }

    /// Append `len` bytes copied from `dist` bytes back, never reaching
    /// before `floor` (the start of the current independent unit).
    pub(crate) fn copy_match(&mut self, dist: usize, len: usize, floor: usize) -> Result<(), Kind> {
        let start = match self.buf.len().checked_sub(dist) {
            Some(start) if dist > 0 && start >= floor => start,
            _ => return Err(Kind::Corrupt("match distance out of range")),
        };
        self.reserve(len)?;
        // Overlapping copies (dist < len) repeat the pattern, so go byte-wise
        // unless the source is wholly behind the write position.
        if dist >= len {
            self.buf.extend_from_within(start..start + len);
        } else {
            for i in 0..len {
                let b = self.buf[start + i];
                self.buf.push(b);
            }
        }
        Ok(())
    }
}

/// Lets the `io::Write`-based crates stream into the bounded buffer.
impl io::Write for Out {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self.extend(data) {
            Ok(()) => Ok(data.len()),
            Err(_) => Err(io::Error::other("output limit")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
