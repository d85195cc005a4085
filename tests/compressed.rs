//! Compressed user-data end to end: every format made by the real tools,
//! served over IMDS (AWS) and from a NoCloud seed, decompressed in-process
//! by `save_userdata`; corrupt, truncated and bomb inputs fail cleanly with
//! nothing written.

#![cfg(any(feature = "aws", feature = "nocloud"))]

mod support;

use support::{FakeRoot, Tc};

/// `tests/fixtures/compressed/hello.*` all hold this text.
#[cfg(feature = "aws")]
const HELLO: &str = "#cloud-config\nhostname: tiny\n";
#[cfg(feature = "aws")]
const FORMATS: [(&str, &str); 7] = [
    ("gz", "gzip"),
    ("bz2", "bzip2"),
    ("xz", "xz"),
    ("lzma", "lzma"),
    ("lzo", "lzop"),
    ("lz4", "lz4"),
    ("zst", "zstd"),
];

#[cfg(feature = "aws")]
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compressed")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(feature = "aws")]
mod over_imds {
    use super::*;
    use support::mock_imds::{Flavor, MockImds};

    fn early(userdata: &[u8]) -> (FakeRoot, support::Run) {
        let root = FakeRoot::alpine("compressed");
        root.aws_dmi();
        let imds = MockImds::start(Flavor::Aws);
        imds.aws_instance(Some(userdata));
        let r = Tc::new(&root)
            .env("IMDS_ENDPOINT", imds.endpoint())
            .run(&["early"]);
        (root, r)
    }

    #[test]
    fn every_format_is_decompressed() {
        for (ext, name) in FORMATS {
            let (root, r) = early(&fixture(&format!("hello.{ext}")));
            r.ok()
                .has("save_userdata: done")
                .has("cloud-config user-data");
            assert_eq!(root.read("var/lib/cloud/user-data"), HELLO, "{name}");
            assert_eq!(root.mode("var/lib/cloud/user-data"), 0o600, "{name}");
        }
    }

    #[test]
    fn corrupt_and_truncated_input_writes_nothing() {
        for (ext, name) in FORMATS {
            let good = fixture(&format!("hello.{ext}"));
            let truncated = &good[..good.len() / 2];
            let (root, r) = early(truncated);
            r.failed().has("save_userdata: failed").has(name);
            assert!(!root.exists("var/lib/cloud/user-data"), "{name}");
        }
        let mut flipped = fixture("hello.gz");
        let n = flipped.len();
        flipped[n - 6] ^= 0x40; // inside the CRC-32
        let (root, r) = early(&flipped);
        r.failed().has("gzip");
        assert!(!root.exists("var/lib/cloud/user-data"));
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 80 MiB of zeros: past the 64 MiB cap on decompressed user-data.
        let mut gzip = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip is needed to make the bomb");
        let mut stdin = gzip.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..80 {
                stdin.write_all(&zeros).unwrap();
            }
        });
        let bomb = gzip.wait_with_output().unwrap().stdout;
        writer.join().unwrap();
        assert!(bomb.len() < 200_000);
        let (root, r) = early(&bomb);
        r.failed().has("save_userdata: failed").has("64 MiB");
        assert!(!root.exists("var/lib/cloud/user-data"));
        let leftovers: Vec<_> = std::fs::read_dir(root.path("var/lib/cloud"))
            .unwrap()
            .flatten()
            .collect();
        assert!(
            leftovers.iter().all(|e| e.file_name() != "user-data"),
            "{leftovers:?}"
        );
    }
}

#[cfg(feature = "nocloud")]
mod from_a_seed {
    use super::*;
    use support::Fakes;

    #[test]
    fn gzip_cloud_config_from_a_seed_directory_runs() {
        let root = FakeRoot::alpine("compressed-seed");
        let fakes = Fakes::new(support::DEFAULT_FAKES);
        root.write("proc/cmdline", "root=/dev/vda2 ds=nocloud;s=/seed/\n");
        root.write(
            "seed/meta-data",
            "instance-id: iid-1\nlocal-hostname: seeded\n",
        );
        let config = "#cloud-config\nusers:\n  - default\n  - name: ops\n    groups: [wheel]\nwrite_files:\n  - path: /etc/motd\n    content: from a gzip seed\n";
        let mut gz = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip");
        {
            use std::io::Write;
            gz.stdin
                .take()
                .unwrap()
                .write_all(config.as_bytes())
                .unwrap();
        }
        root.write("seed/user-data", gz.wait_with_output().unwrap().stdout);
        let tc = Tc::new(&root).fakes(&fakes);
        support::first_boot_ok(&tc);
        assert_eq!(root.read("var/lib/cloud/user-data"), config);
        assert!(root.read("etc/passwd").contains("\nops:x:"));
        assert!(
            root.read("etc/group")
                .contains("wheel:x:10:root,alpine,ops\n")
        );
        assert_eq!(root.read("etc/motd"), "from a gzip seed");
        assert_eq!(root.read("etc/hostname"), "seeded\n");
    }
}
