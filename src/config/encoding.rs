//! `write_files` content encodings: base64 and gzip, alone or stacked
//! (`gz+b64` is gzip data sent as base64, so base64 comes off first).

/// Decoded content may not grow past this (a gzip bomb guard).
pub const MAX_CONTENT: usize = 64 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub base64: bool,
    pub gzip: bool,
}

/// The names cloud-init accepts; `None` for anything else.
pub fn parse_encoding(name: &str) -> Option<Encoding> {
    let (base64, gzip) = match name.trim().to_ascii_lowercase().as_str() {
        "" | "text/plain" | "text" | "plain" => (false, false),
        "b64" | "base64" => (true, false),
        "gz" | "gzip" => (false, true),
        "gz+b64" | "gz+base64" | "gzip+b64" | "gzip+base64" => (true, true),
        _ => return None,
    };
    Some(Encoding { base64, gzip })
}

pub fn decode(data: &[u8], enc: Encoding) -> Result<Vec<u8>, String> {
    let data = if enc.base64 {
        crate::base64::decode(data)?
    } else {
        data.to_vec()
    };
    if enc.gzip { gunzip(&data) } else { Ok(data) }
}

/// One gzip stream (or several members), through the same bounded decoder
/// as compressed user-data.
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use crate::decompress::{Format, decompress};
    decompress(Format::Gzip, data, MAX_CONTENT).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'hello\n' | gzip -n`
    const HELLO_GZ: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn gzip_round() {
        assert_eq!(gunzip(HELLO_GZ).unwrap(), b"hello\n");
        let mut bad = HELLO_GZ.to_vec();
        bad[20] ^= 1;
        assert!(gunzip(&bad).is_err());
        assert!(gunzip(&HELLO_GZ[..15]).is_err());
        assert!(gunzip(b"hello").is_err());
    }

    #[test]
    fn encodings() {
        assert_eq!(
            parse_encoding("GZ+B64"),
            Some(Encoding {
                base64: true,
                gzip: true
            })
        );
        assert_eq!(parse_encoding("rot13"), None);
        let e = parse_encoding("b64").unwrap();
        assert_eq!(decode(b"aGk=", e).unwrap(), b"hi");
    }
}
