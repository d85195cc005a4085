//! Fixtures shared by the tests and the examples: a fake Alpine root and
//! recording fakes for external commands. (No reference to the built binary
//! here, so examples can include this file too.)
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty scratch directory unique to this test.
pub fn scratch(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        std::env::temp_dir().join(format!("tiny-cloud-test-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A directory tree laid out like a freshly installed Alpine cloud image.
pub struct FakeRoot {
    pub dir: PathBuf,
}

impl FakeRoot {
    pub fn empty(name: &str) -> FakeRoot {
        FakeRoot { dir: scratch(name) }
    }

    pub fn alpine(name: &str) -> FakeRoot {
        let r = FakeRoot::empty(name);
        r.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\nsshd:x:22:22:sshd:/dev/null:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n");
        r.write("etc/group", "root:x:0:root\nbin:x:1:root,bin\nwheel:x:10:root\nshadow:x:42:\nsshd:x:22:\nnogroup:x:65533:\nnobody:x:65534:\n");
        r.write(
            "etc/shadow",
            "root:*:19000:0:::::\nbin:!::0:::::\nsshd:!::0:::::\nnobody:!::0:::::\n",
        );
        r.chmod("etc/shadow", 0o640);
        std::os::unix::fs::chown(r.path("etc/shadow"), Some(0), Some(42)).expect("chown shadow");
        r.write("etc/skel/.profile", "export PS1='$ '\n");
        r.write(
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n",
        );
        r.write(
            "etc/hosts",
            "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain\n",
        );
        r.write("etc/init.d/sshd", "#!/sbin/openrc-run\n");
        r.chmod("etc/init.d/sshd", 0o755);
        r.mkdir("etc/runlevels/boot");
        r.mkdir("etc/runlevels/default");
        r.mkdir("etc/doas.d");
        r.mkdir("home");
        r.mkdir("var/lib/cloud");
        r.mkdir("var/log");
        r.write(
            "proc/mounts",
            "/dev/vda2 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n",
        );
        r.write(
            "proc/cmdline",
            "BOOT_IMAGE=/boot/vmlinuz-virt root=/dev/vda2 console=ttyS0\n",
        );
        r.write("sys/class/block/vda2/partition", "2\n");
        r.net("eth0", 2, "up", "02:00:00:00:00:01");
        r
    }

    /// Adds an interface under /sys/class/net.
    pub fn net(&self, iface: &str, index: u32, operstate: &str, mac: &str) -> &Self {
        self.write(
            &format!("sys/class/net/{iface}/ifindex"),
            format!("{index}\n"),
        );
        self.write(
            &format!("sys/class/net/{iface}/operstate"),
            format!("{operstate}\n"),
        );
        self.write(
            &format!("sys/class/net/{iface}/address"),
            format!("{mac}\n"),
        );
        self
    }

    pub fn aws_dmi(&self) -> &Self {
        self.write("sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel.trim_start_matches('/'))
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write fake file");
        self
    }

    pub fn mkdir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.path(rel)).expect("mkdir");
        self
    }

    pub fn chmod(&self, rel: &str, mode: u32) -> &Self {
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn read_opt(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok()
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.path(rel)).is_ok()
    }

    pub fn mode(&self, rel: &str) -> u32 {
        std::fs::symlink_metadata(self.path(rel))
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    }

    pub fn owner(&self, rel: &str) -> (u32, u32) {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(self.path(rel)).expect("stat");
        (m.uid(), m.gid())
    }

    pub fn link(&self, rel: &str) -> Option<String> {
        std::fs::read_link(self.path(rel))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// Every file under the root with its content, for "nothing changed" checks.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(base)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                let meta = std::fs::symlink_metadata(&p).expect("stat");
                if meta.is_dir() {
                    out.push((format!("{rel}/"), Vec::new()));
                    walk(base, &p, out);
                } else if meta.file_type().is_symlink() {
                    let t = std::fs::read_link(&p).expect("readlink");
                    out.push((format!("{rel} ->"), t.to_string_lossy().as_bytes().to_vec()));
                } else {
                    out.push((rel, std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir, &self.dir, &mut out);
        out.sort();
        out
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Recording stand-ins for external commands, first on PATH.
pub struct Fakes {
    pub dir: PathBuf,
    log: PathBuf,
}

pub const DEFAULT_FAKES: &[&str] = &[
    "sfdisk",
    "partx",
    "resize2fs",
    "ip",
    "udhcpc",
    "mount",
    "umount",
    "findfs",
    "blkid",
    "apk",
    "setup-apkrepos",
    "rc-service",
    "lbu",
    "setup-disk",
    "reboot",
];

impl Fakes {
    pub fn new(names: &[&str]) -> Fakes {
        let dir = scratch("fakes");
        let log = dir.join("calls.log");
        let fakes = Fakes { dir, log };
        for name in names {
            fakes.script(name, "exit 0");
        }
        fakes
    }

    /// Installs a fake whose body runs after the call (and its stdin) is recorded.
    pub fn script(&self, name: &str, body: &str) -> &Self {
        let path = self.dir.join(name);
        let text = format!(
            "#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> '{log}'\nif [ ! -t 0 ]; then input=$(cat); [ -n \"$input\" ] && printf '  stdin: %s\\n' \"$input\" >> '{log}'; fi\n{body}\n",
            log = self.log.display()
        );
        std::fs::write(&path, text).expect("write fake");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod fake");
        self
    }

    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn path_env(&self) -> String {
        format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", self.dir.display())
    }
}

impl Drop for Fakes {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
