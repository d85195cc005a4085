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

    /// Azure and OCI user-data go through this decoder too: the RFC's own
    /// vectors, padded or not, and every byte value through a wrapped text.
    #[test]
    fn rfc4648_vectors_and_every_byte() {
        for (plain, enc) in [
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(decode(enc.as_bytes()).unwrap(), plain.as_bytes(), "{enc}");
            let bare = enc.trim_end_matches('=');
            assert_eq!(decode(bare.as_bytes()).unwrap(), plain.as_bytes(), "{bare}");
        }
        let all: Vec<u8> = (0..=255).collect();
        let enc = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n\
                   OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\n\
                   cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\n\
                   q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\n\
                   5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\n";
        assert_eq!(decode(enc.as_bytes()).unwrap(), all);
        assert!(decode(b"Zm9v!").is_err());
        assert!(decode(b"Zm9vY").is_err());
        assert!(decode(b"Zg==Zg==").is_err());
    }
}
