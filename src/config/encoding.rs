//! `write_files` content encodings: base64 and gzip, alone or stacked
//! (`gz+b64` is gzip data sent as base64, so base64 comes off first).
//!
//! gzip is unwrapped here with miniz_oxide's raw inflate; once the
//! `crate::decompress` module is on main, `gunzip` can defer to it.

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

/// RFC 1952: header, raw deflate, then CRC-32 and length of the original.
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    const FTEXT_HCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let bad = |what: &str| format!("invalid gzip data: {what}");
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b {
        return Err(bad("no gzip header"));
    }
    if data[2] != 8 {
        return Err(bad("unknown compression method"));
    }
    let flags = data[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = usize::from(u16::from_le_bytes([data[at], data[at + 1]]));
        at += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = data
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
                .ok_or_else(|| bad("truncated header"))?;
            at += end + 1;
        }
    }
    if flags & FTEXT_HCRC != 0 {
        at += 2;
    }
    if at + 8 > data.len() {
        return Err(bad("truncated"));
    }
    let body = &data[at..data.len() - 8];
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_CONTENT).map_err(
        |e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                format!("gzip content larger than {MAX_CONTENT} bytes")
            }
            _ => bad("corrupt deflate stream"),
        },
    )?;
    let tail = &data[data.len() - 8..];
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let size = u32::from_le_bytes([tail[4], tail[5], tail[6], tail[7]]);
    if crc32(&out) != crc || out.len() as u32 != size {
        return Err(bad("checksum mismatch (truncated or several members)"));
    }
    Ok(out)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
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
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
