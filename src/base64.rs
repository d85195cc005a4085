//! Base64 decoding (RFC 4648), for `write_files` encodings and `!!binary`.
//! Whitespace is skipped (YAML folds long values over lines); padding is
//! optional; the URL-safe alphabet is accepted too, since people paste both.

/// Decodes `text`, or says what is wrong with it in a few words.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = 0;
    for (i, &c) in text.iter().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(format!("invalid base64 character at offset {i}")),
        };
        if padding > 0 {
            return Err("invalid base64: data after '=' padding".into());
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits can only come from a lone character: not a byte.
    if bits >= 6 || padding > 2 {
        return Err("invalid base64: truncated".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes() {
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(decode(b"aGk=").unwrap(), b"hi");
        assert_eq!(decode(b"aGk").unwrap(), b"hi");
        assert_eq!(decode(b"aGVs\nbG8=\n").unwrap(), b"hello");
        assert_eq!(decode(b"//8=").unwrap(), [0xff, 0xff]);
        assert_eq!(decode(b"__8").unwrap(), [0xff, 0xff]);
        assert_eq!(decode(b"Zm9vYmFy").unwrap(), b"foobar");
    }

    #[test]
    fn rejects() {
        assert!(decode(b"a").is_err());
        assert!(decode(b"aG*k").is_err());
        assert!(decode(b"aG=k").is_err());
    }
}
