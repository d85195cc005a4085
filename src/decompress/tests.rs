//! Tests against files made by the real compressors (see
//! tests/fixtures/compressed/make.sh), plus truncation, corruption and
//! decompression-bomb cases.

use super::*;
use std::time::{Duration, Instant};

const LIMIT: usize = 64 << 20;
const HELLO: &[u8] = b"#cloud-config\nhostname: tiny\n";
const FORMATS: [(&str, Format); 7] = [
    ("gz", Format::Gzip),
    ("bz2", Format::Bzip2),
    ("xz", Format::Xz),
    ("lzma", Format::Lzma),
    ("lzo", Format::Lzop),
    ("lz4", Format::Lz4),
    ("zst", Format::Zstd),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/compressed/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The reference text: gzip verifies CRC-32 and length, so if this decodes
/// it is exactly what the tools compressed.
fn big() -> Vec<u8> {
    decompress(Format::Gzip, &fixture("big.gz"), LIMIT).unwrap()
}

fn medium() -> Vec<u8> {
    big()[..8000].to_vec()
}

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    [a, b].concat()
}

#[test]
fn every_format_round_trips() {
    let big = big();
    assert!(big.len() >= 128 << 10);
    for (ext, format) in FORMATS {
        for (stem, want) in [("hello", HELLO), ("empty", &[][..]), ("big", &big[..])] {
            let name = format!("{stem}.{ext}");
            let data = fixture(&name);
            assert_eq!(detect(&data), Some(format), "{name}");
            let got = maybe_decompress(&data, LIMIT).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(got == want, "{name}: wrong output");
        }
    }
}

#[test]
fn format_variants() {
    let (big, medium) = (big(), medium());
    let hello_medium = cat(HELLO, &medium);
    let cases: [(&str, &[u8]); 20] = [
        ("medium.gz", &medium),
        ("multi.gz", &hello_medium),
        ("name.gz", &medium),
        ("fields.gz", HELLO),
        ("multi.bz2", &hello_medium),
        ("multi.xz", &hello_medium),
        ("nocheck.xz", &medium),
        ("crc32.xz", &medium),
        ("level1.lzo", &medium),
        ("level3.lzo", &medium),
        ("crc.lzo", &medium),
        ("bx.lz4", &big),
        ("linked.lz4", &big),
        ("nocrc.lz4", &medium),
        ("hc.lz4", &medium),
        ("multi.lz4", &hello_medium),
        ("nocheck.zst", &medium),
        ("multi.zst", &hello_medium),
        ("level1.zst", &medium),
        ("stream.zst", &medium),
    ];
    for (name, want) in cases {
        let got = maybe_decompress(&fixture(name), LIMIT).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(got == want, "{name}: wrong output");
    }
}

#[test]
fn bombs_stop_at_the_limit() {
    for (ext, format) in FORMATS {
        let data = fixture(&format!("bomb.{ext}"));
        let start = Instant::now();
        let err = maybe_decompress(&data, 1 << 20).unwrap_err();
        assert!(err.is_too_large(), "bomb.{ext}: {err}");
        assert_eq!(
            err.to_string(),
            format!("{}: output exceeds the 1 MiB limit", format.name())
        );
        // Generous for debug builds; the point is "does not decode it all".
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "bomb.{ext} too slow"
        );
    }
}

#[test]
fn limit_is_exact() {
    for (ext, _) in FORMATS {
        let data = fixture(&format!("hello.{ext}"));
        assert_eq!(
            maybe_decompress(&data, HELLO.len()).unwrap(),
            HELLO,
            "hello.{ext}"
        );
        let err = maybe_decompress(&data, HELLO.len() - 1).unwrap_err();
        assert!(err.is_too_large(), "hello.{ext}: {err}");
        assert!(
            err.to_string()
                .ends_with("output exceeds the 28 byte limit"),
            "{err}"
        );
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (ext, format) in FORMATS {
        for stem in ["hello", "empty", "big"] {
            let data = fixture(&format!("{stem}.{ext}"));
            // Every prefix of the small files; a sample of the big one.
            let step = if stem == "big" { 211 } else { 1 };
            for len in (0..data.len()).step_by(step) {
                match decompress(format, &data[..len], LIMIT) {
                    Ok(_) => panic!("{stem}.{ext} cut at {len} decoded"),
                    Err(e) => assert!(!e.is_too_large(), "{stem}.{ext} cut at {len}: {e}"),
                }
            }
        }
    }
}

#[test]
fn corruption_is_detected() {
    // All but lzma (which has no check) carry checksums, so a flipped bit
    // must either fail or hit a field that does not affect the output
    // (gzip MTIME/XFL/OS, for instance). Nothing may panic.
    for (ext, format) in FORMATS {
        for stem in ["hello", "big"] {
            let data = fixture(&format!("{stem}.{ext}"));
            let want = maybe_decompress(&data, LIMIT).unwrap();
            let step = if stem == "big" { 97 } else { 1 };
            for i in (0..data.len()).step_by(step) {
                for bit in [0x01, 0x80] {
                    let mut bad = data.clone();
                    bad[i] ^= bit;
                    match decompress(format, &bad, LIMIT) {
                        Ok(out) if format != Format::Lzma => {
                            assert!(out == want, "{stem}.{ext}: flip at {i} gave other output")
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

#[test]
fn error_messages_name_the_format_and_cause() {
    let gz = fixture("hello.gz");
    let mut bad = gz.clone();
    let crc_at = bad.len() - 8;
    bad[crc_at] ^= 1;
    let msg = |f, d: &[u8]| decompress(f, d, LIMIT).unwrap_err().to_string();
    assert_eq!(msg(Format::Gzip, &bad), "gzip: corrupt data (CRC mismatch)");
    assert_eq!(
        msg(Format::Gzip, &gz[..gz.len() - 3]),
        "gzip: truncated input"
    );
    let xz = fixture("hello.xz");
    assert_eq!(msg(Format::Xz, &xz[..xz.len() - 10]), "xz: truncated input");
    let bz = fixture("hello.bz2");
    assert_eq!(
        msg(Format::Bzip2, &bz[..bz.len() - 2]),
        "bzip2: truncated input"
    );
    assert_eq!(
        msg(Format::Xz, &fixture("sha256.xz")),
        "xz: unsupported integrity check (SHA-256)"
    );
    let window = fixture("window.zst");
    assert_eq!(maybe_decompress(&window, LIMIT).unwrap(), HELLO);
    assert_eq!(
        decompress(Format::Zstd, &window, 1 << 20)
            .unwrap_err()
            .to_string(),
        "zstd: unsupported window size"
    );
    let zst = fixture("hello.zst");
    assert_eq!(
        msg(Format::Zstd, &zst[..zst.len() - 1]),
        "zstd: truncated input"
    );
}

#[test]
fn plain_data_passes_through() {
    for text in [
        &b""[..],
        b"#!/bin/sh\necho hi\n",
        b"#cloud-config\n",
        b"]]]]]]]]]]]]]]]]]",
        b"]\x00\x00\x01\x00hello world",
        b"\x1f",
        b"BZ",
    ] {
        assert_eq!(detect(text), None);
        assert_eq!(
            maybe_decompress(text, 4).unwrap_or_default(),
            text.get(..).unwrap()
        );
    }
}

#[test]
fn lzma_detection_requires_a_sane_header() {
    let lzma = fixture("hello.lzma");
    assert_eq!(detect(&lzma), Some(Format::Lzma));
    let mut odd_dict = lzma.clone();
    odd_dict[1] = 0x01;
    assert_eq!(detect(&odd_dict), None);
    let mut huge_size = lzma.clone();
    huge_size[11] = 0x40;
    assert_eq!(detect(&huge_size), None);
}

#[test]
fn fuzz_regressions() {
    // Each once made a dependency panic (overflow checks) before we
    // validated the structure it trips on.
    const FOUND: &[(&str, Format)] = &[("fuzz-xz-backward-size.xz", Format::Xz)];
    for &(name, format) in FOUND {
        let data = fixture(name);
        assert_eq!(detect(&data), Some(format));
        assert!(maybe_decompress(&data, 1 << 20).is_err(), "{name}");
    }
}
