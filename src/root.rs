//! `Root`: every path under `$ROOT` and every write to it. Writes are atomic
//! (temp file in the same directory, fsync, rename) so that a crash or a
//! power cut at first boot never leaves a half-written `/etc/passwd`.

use crate::error::{Error, IoContext, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Root {
    base: PathBuf,
}

/// Who owns a file: numeric ids, as resolved in ROOT's own user database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// How a new file is created; an existing file keeps its mode and owner
/// unless `force` says the contract fixes them (e.g. `authorized_keys`).
#[derive(Clone, Copy, Debug)]
pub struct FileSpec {
    pub mode: u32,
    pub owner: Option<Owner>,
    pub force: bool,
    /// Refuse (instead of replacing) a symlink at the path or its parent.
    pub no_symlink: bool,
}

impl FileSpec {
    pub const fn mode(mode: u32) -> FileSpec {
        FileSpec {
            mode,
            owner: None,
            force: false,
            no_symlink: false,
        }
    }

    pub const fn forced(mode: u32, owner: Owner) -> FileSpec {
        FileSpec {
            mode,
            owner: Some(owner),
            force: true,
            no_symlink: true,
        }
    }
}

impl Root {
    pub fn new(base: impl Into<PathBuf>) -> Root {
        Root { base: base.into() }
    }

    /// True when we act on the running system, so kernel state may change too.
    pub fn is_host(&self) -> bool {
        self.base.as_os_str().is_empty() || self.base == Path::new("/")
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The real path of an absolute path inside ROOT.
    pub fn path(&self, abs: &str) -> PathBuf {
        crate::settings::join_root(&self.base, abs)
    }

    /// Reads a text file; a missing file is `None`, not an error.
    pub fn read_opt(&self, path: &Path) -> Result<Option<String>> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at("read", path),
        }
    }

    /// The first line of a small file, trimmed (sysfs and procfs values).
    pub fn read_value(&self, abs: &str) -> Option<String> {
        let text = fs::read_to_string(self.path(abs)).ok()?;
        Some(text.lines().next().unwrap_or("").trim().to_string())
    }

    pub fn exists(&self, abs: &str) -> bool {
        fs::symlink_metadata(self.path(abs)).is_ok()
    }

    /// Creates `dir` and its parents (mode 0755 for new ones).
    pub fn create_dir_all(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).at("create directory", dir)
    }

    /// Makes sure `dir` is a real directory (not a symlink) with this mode and owner.
    pub fn ensure_private_dir(&self, dir: &Path, mode: u32, owner: Owner) -> Result<()> {
        match fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::msg(format!(
                    "refusing to use {}: it is a symlink",
                    dir.display()
                )));
            }
            Ok(m) if !m.is_dir() => {
                return Err(Error::msg(format!(
                    "{} exists and is not a directory",
                    dir.display()
                )));
            }
            Ok(_) => {}
            Err(_) => {
                if let Some(parent) = dir.parent() {
                    self.create_dir_all(parent)?;
                }
                fs::create_dir(dir).at("create directory", dir)?;
            }
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).at("chmod", dir)?;
        chown(dir, owner)
    }

    /// Atomically replaces (or creates) `path` with `data`.
    pub fn write(&self, path: &Path, data: &[u8], spec: FileSpec) -> Result<()> {
        let dir = path
            .parent()
            .ok_or_else(|| Error::msg(format!("{} has no parent directory", path.display())))?;
        let name = path
            .file_name()
            .ok_or_else(|| Error::msg(format!("{} is not a file path", path.display())))?;
        if spec.no_symlink {
            refuse_symlink(dir)?;
        }
        let existing = match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() && spec.no_symlink => {
                return Err(Error::msg(format!(
                    "refusing to write {}: it is a symlink",
                    path.display()
                )));
            }
            Ok(m) if m.is_dir() => {
                return Err(Error::msg(format!(
                    "cannot write {}: it is a directory",
                    path.display()
                )));
            }
            Ok(m) if m.is_file() => Some(m),
            _ => None,
        };
        self.create_dir_all(dir)?;
        let (mode, owner) = match (&existing, spec.force) {
            (Some(m), false) => (
                m.mode() & 0o7777,
                Some(Owner {
                    uid: m.uid(),
                    gid: m.gid(),
                }),
            ),
            _ => (spec.mode, spec.owner),
        };

        let tmp = dir.join(format!(
            ".{}.tiny-cloud-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let result = (|| {
            let _ = fs::remove_file(&tmp);
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                // O_EXCL also refuses a symlink planted at the temp name.
                .mode(0o600)
                .open(&tmp)
                .at("create", &tmp)?;
            file.write_all(data).at("write", &tmp)?;
            // chown before chmod: chown clears set-id bits.
            if let Some(o) = owner {
                chown_file(&file, &tmp, o)?;
            }
            file.set_permissions(fs::Permissions::from_mode(mode))
                .at("chmod", &tmp)?;
            file.sync_all().at("sync", &tmp)?;
            fs::rename(&tmp, path).at("replace", path)?;
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Appends each line not already present (compared whole), atomically.
    /// Returns how many were added.
    pub fn add_lines(&self, path: &Path, lines: &[String], spec: FileSpec) -> Result<usize> {
        let current = self.read_opt(path)?.unwrap_or_default();
        let mut text = current.clone();
        let mut added = 0;
        for line in lines {
            if text.lines().any(|l| l == line) {
                continue;
            }
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(line);
            text.push('\n');
            added += 1;
        }
        if added > 0 || (spec.force && fs::symlink_metadata(path).is_err()) {
            self.write(path, text.as_bytes(), spec)?;
        }
        Ok(added)
    }

    /// Points `link` at `target`; an existing correct link is left alone.
    /// Returns whether anything changed.
    pub fn symlink(&self, target: &str, link: &Path) -> Result<bool> {
        if let Ok(existing) = fs::read_link(link) {
            if existing == Path::new(target) {
                return Ok(false);
            }
        }
        if let Some(dir) = link.parent() {
            self.create_dir_all(dir)?;
        }
        let tmp = link.with_file_name(format!(
            ".{}.tiny-cloud-{}",
            link.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp).at("create link", &tmp)?;
        fs::rename(&tmp, link).at("replace", link)?;
        Ok(true)
    }

    pub fn remove_file(&self, path: &Path) -> Result<bool> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).at("remove", path),
        }
    }
}

fn refuse_symlink(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::msg(format!(
            "refusing to write into {}: it is a symlink",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Changes the owner of `path` itself (never a symlink's target).
pub fn chown(path: &Path, owner: Owner) -> Result<()> {
    let m = fs::symlink_metadata(path).at("stat", path)?;
    if m.uid() == owner.uid && m.gid() == owner.gid {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(owner.uid), Some(owner.gid)).at("chown", path)
}

fn chown_file(file: &File, path: &Path, owner: Owner) -> Result<()> {
    let m = file.metadata().at("stat", path)?;
    if m.uid() == owner.uid && m.gid() == owner.gid {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(owner.uid), Some(owner.gid)).at("chown", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tc-root-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_keeps_mode_of_replaced_file() {
        let dir = scratch("mode");
        let root = Root::new(&dir);
        let p = root.path("/etc/shadow");
        root.write(&p, b"a\n", FileSpec::mode(0o640)).unwrap();
        root.write(&p, b"b\n", FileSpec::mode(0o644)).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o640);
        assert_eq!(fs::read(&p).unwrap(), b"b\n");
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file may remain");
    }

    #[test]
    fn no_symlink_spec_refuses_links() {
        let dir = scratch("link");
        let root = Root::new(&dir);
        std::os::unix::fs::symlink("/etc/passwd", dir.join("keys")).unwrap();
        let err = root.write(
            &dir.join("keys"),
            b"x",
            FileSpec::forced(0o600, Owner::ROOT),
        );
        assert!(err.unwrap_err().to_string().contains("symlink"));
    }

    #[test]
    fn add_lines_is_idempotent() {
        let dir = scratch("lines");
        let root = Root::new(&dir);
        let p = dir.join("f");
        let lines = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            root.add_lines(&p, &lines, FileSpec::mode(0o644)).unwrap(),
            2
        );
        assert_eq!(
            root.add_lines(&p, &lines, FileSpec::mode(0o644)).unwrap(),
            0
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\nb\n");
    }
}
