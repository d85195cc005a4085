//! `#cloud-config` commands, files, NTP, apk and autoinstall. External
//! programs get their arguments as argv; only `bootcmd` / `runcmd` strings
//! (the user's own shell code, meant to run) ever reach `sh -c`.

use super::Ctx;
use crate::config::{self, Command, Config};
use crate::error::{Error, IoContext, Result};
use crate::exec;
use crate::root::{FileSpec, Owner};
use crate::settings::Phase;
use crate::userdb::UserDb;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;
use std::rc::Rc;

pub fn userdata_bootcmd(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    run_commands(ctx, &config.bootcmd, "bootcmd")
}

pub fn userdata_runcmd(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    run_commands(ctx, &config.runcmd, "runcmd")
}

/// Runs each entry in order, output (stdout and stderr) to our stdout; the
/// first that fails stops the rest.
fn run_commands(ctx: &Ctx, cmds: &[Command], key: &str) -> Result<()> {
    if cmds.is_empty() {
        ctx.note(&format!("no {key} in user-data"));
        return Ok(());
    }
    for (i, cmd) in cmds.iter().enumerate() {
        let (program, mut command) = match cmd {
            Command::Shell(code) => {
                let mut c = std::process::Command::new("sh");
                c.arg("-c").arg(code);
                ("sh", c)
            }
            Command::Argv(argv) => {
                let mut c = std::process::Command::new(&argv[0]);
                c.args(&argv[1..]);
                (argv[0].as_str(), c)
            }
        };
        let out = to_stdout()?;
        let err = to_stdout()?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        ctx.note(&format!("running {key}[{i}]"));
        let _ = std::io::stdout().flush();
        let status = command
            .status()
            .map_err(|e| exec::spawn_error(program, e))?;
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            return Err(Error::msg(format!("{key}[{i}] {how}")));
        }
    }
    ctx.note(&format!("{} command(s) ran", cmds.len()));
    Ok(())
}

/// A copy of our stdout for a child, so its stderr lands there too.
fn to_stdout() -> Result<Stdio> {
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::msg(format!("cannot duplicate stdout: {e}")))?;
    Ok(Stdio::from(fd))
}

/// In main: the entries without `defer`; in final: those with it.
pub fn userdata_write_files(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    let deferred = ctx.phase == Phase::Final;
    let files: Vec<_> = config
        .write_files
        .iter()
        .filter(|f| f.defer == deferred)
        .collect();
    if files.is_empty() {
        ctx.note(if deferred {
            "no deferred write_files in user-data"
        } else {
            "no write_files in user-data"
        });
        return Ok(());
    }
    let db = UserDb::load(&ctx.root)?;
    for file in files {
        let path = ctx.root.path(&file.path);
        stays_inside_root(ctx, &path)?;
        let owner = match &file.owner {
            None => Owner::ROOT,
            Some((user, group)) => {
                db.resolve_owner(user, group.as_deref()).unwrap_or_else(|| {
                    let spec = match group {
                        Some(g) => format!("{user}:{g}"),
                        None => user.clone(),
                    };
                    ctx.warn(&format!(
                        "{}: owner {spec} is not in /etc/passwd and /etc/group; the file stays root-owned",
                        file.path
                    ));
                    Owner::ROOT
                })
            }
        };
        let data = if file.append {
            let mut old = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e).at("read", &path),
            };
            // A re-run after a failed boot must not append the same text again.
            if already_appended(&old, &file.content) {
                ctx.note(&format!("{}: already appended", file.path));
                continue;
            }
            old.extend_from_slice(&file.content);
            old
        } else {
            file.content.clone()
        };
        let spec = FileSpec {
            mode: file.mode,
            owner: Some(owner),
            force: true,
            no_symlink: false,
        };
        ctx.root.write(&path, &data, spec)?;
        ctx.note(&format!(
            "wrote {} ({} bytes, mode {:04o})",
            file.path,
            data.len(),
            file.mode
        ));
    }
    Ok(())
}

/// `text` is already in `file`, starting at the beginning of a line.
fn already_appended(file: &[u8], text: &[u8]) -> bool {
    if text.is_empty() {
        return true;
    }
    file.windows(text.len())
        .enumerate()
        .any(|(i, w)| w == text && (i == 0 || file[i - 1] == b'\n'))
}

/// Under a ROOT that is not `/`, a symlink in the image (say `/etc/x ->
/// /etc`) must not lead a write out to the build host.
fn stays_inside_root(ctx: &Ctx, path: &Path) -> Result<()> {
    if ctx.root.is_host() {
        return Ok(());
    }
    let base = std::fs::canonicalize(ctx.root.base()).at("resolve", ctx.root.base())?;
    let mut dir = path.parent();
    while let Some(d) = dir {
        if let Ok(real) = std::fs::canonicalize(d) {
            if real.starts_with(&base) {
                return Ok(());
            }
            return Err(Error::msg(format!(
                "{} leads outside ROOT (through a symlink)",
                path.display()
            )));
        }
        dir = d.parent();
    }
    Ok(())
}

/// `ntp.enabled`: install the client if it is a package, add it to the
/// default runlevel, start it.
pub fn userdata_ntp(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    let Some(client) = config.ntp else {
        ctx.note("ntp not enabled in user-data");
        return Ok(());
    };
    let (package, service) = client.parts();
    if let Some(p) = package {
        exec::run("apk", &["add", p], None)?;
    }
    let link = ctx.root.path(&format!("/etc/runlevels/default/{service}"));
    ctx.root.symlink(&format!("/etc/init.d/{service}"), &link)?;
    exec::run("rc-service", &[service, "start"], None)?;
    ctx.note(&format!("{service} enabled and started"));
    Ok(())
}

/// `apk.cache: DIR`: DIR made, `/etc/apk/cache` a relative link to it (so
/// the link also works with the disk mounted elsewhere).
pub fn userdata_apk_cache(ctx: &mut Ctx) -> Result<()> {
    const LINK: &str = "/etc/apk/cache";
    let config = config::load(ctx)?;
    let Some(dir) = &config.apk_cache else {
        ctx.note("no apk cache in user-data");
        return Ok(());
    };
    if dir.trim_end_matches('/') == LINK {
        return Err(Error::msg(format!(
            "apk.cache: {dir} would point at itself"
        )));
    }
    let real = ctx.root.path(dir);
    stays_inside_root(ctx, &real.join("x"))?;
    ctx.root.create_dir_all(&real)?;
    let link = ctx.root.path(LINK);
    if std::fs::symlink_metadata(&link).is_ok_and(|m| m.is_dir()) {
        // apk makes an empty one; one with packages in it is not ours to drop.
        std::fs::remove_dir(&link).map_err(|e| {
            Error::msg(format!(
                "cannot replace the directory {}: {e}",
                link.display()
            ))
        })?;
    }
    let target = relative_path("/etc/apk", dir);
    if ctx.root.symlink(&target, &link)? {
        ctx.note(&format!("{LINK} -> {target}"));
    } else {
        ctx.note("already set up");
    }
    Ok(())
}

/// The path from directory `from` to `to`, both absolute.
fn relative_path(from: &str, to: &str) -> String {
    let a: Vec<&str> = from
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let b: Vec<&str> = to
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts = vec![".."; a.len() - common];
    parts.extend_from_slice(&b[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Without `apk:` and without a repositories file: `setup-apkrepos -1 -c`
/// (first mirror, community on). Otherwise each repository line once.
pub fn userdata_apk_repositories(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    let path = ctx.root.path("/etc/apk/repositories");
    if !config.apk_given {
        if path.exists() {
            ctx.note("no apk settings in user-data; /etc/apk/repositories kept");
            return Ok(());
        }
        return exec::run("setup-apkrepos", &["-1", "-c"], None);
    }
    if config.apk_repositories.is_empty() {
        ctx.note("no apk repositories in user-data");
        return Ok(());
    }
    let lines = repository_lines(ctx, &config)?;
    let added = ctx.root.add_lines(&path, &lines, FileSpec::mode(0o644))?;
    ctx.note(&format!("{added} repository line(s) added"));
    Ok(())
}

fn repository_lines(ctx: &Ctx, config: &Rc<Config>) -> Result<Vec<String>> {
    let mut release: Option<String> = None;
    let mut lines = Vec::new();
    for repo in &config.apk_repositories {
        let version = match &repo.version {
            Some(v) => v.clone(),
            None => match &release {
                Some(r) => r.clone(),
                None => {
                    let r = alpine_release(ctx)?;
                    release = Some(r.clone());
                    r
                }
            },
        };
        for name in &repo.repos {
            lines.push(if version.is_empty() {
                format!("{}/{name}", repo.base_url)
            } else {
                format!("{}/{version}/{name}", repo.base_url)
            });
        }
    }
    Ok(lines)
}

/// The mirror directory of this release: `3.20.3` → `v3.20`; development
/// releases (`edge`, `3.21.0_alpha…`) → `edge`.
fn alpine_release(ctx: &Ctx) -> Result<String> {
    let text = ctx
        .root
        .read_opt(&ctx.root.path("/etc/os-release"))?
        .unwrap_or_default();
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("VERSION_ID="))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        .unwrap_or_default();
    release_dir(&id).ok_or_else(|| {
        Error::msg(format!(
            "cannot tell the Alpine release from /etc/os-release (VERSION_ID '{}'); give a version",
            id.escape_debug()
        ))
    })
}

fn release_dir(id: &str) -> Option<String> {
    if id == "edge" || id.contains("_alpha") {
        return Some("edge".into());
    }
    let mut parts = id.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("v{major}.{minor}"))
}

pub fn userdata_package_update(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    apk_if(ctx, config.package_update, "update")
}

pub fn userdata_package_upgrade(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    apk_if(ctx, config.package_upgrade, "upgrade")
}

fn apk_if(ctx: &Ctx, wanted: bool, what: &str) -> Result<()> {
    if !wanted {
        ctx.note(&format!("package_{what} not requested"));
        return Ok(());
    }
    exec::run("apk", &[what], None)
}

pub fn userdata_packages(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    if config.packages.is_empty() {
        ctx.note("no packages in user-data");
        return Ok(());
    }
    let mut args = vec!["add"];
    args.extend(config.packages.iter().map(String::as_str));
    exec::run("apk", &args, None)
}

/// `autoinstall: true`: install this (live) system to the largest empty
/// disk and reboot into it. tiny-cloud's own links go first, so the
/// installed system does not bootstrap itself a second time.
pub fn userdata_autoinstall(ctx: &mut Ctx) -> Result<()> {
    let config = config::load(ctx)?;
    if !config.autoinstall {
        ctx.note("autoinstall not requested");
        return Ok(());
    }
    let Some(disk) = empty_disk(ctx)? else {
        return Err(Error::msg(
            "no disk to install on: every disk in /sys/class/block already has a filesystem or partition table (blkid)",
        ));
    };
    let dev = format!("/dev/{disk}");
    ctx.note(&format!("installing to {dev}"));
    remove_runlevel_links(ctx)?;
    exec::run("lbu", &["include", "/root/.ssh", "/home"], None)?;
    let args = ["-m", "sys", dev.as_str()];
    let status = std::process::Command::new("setup-disk")
        .args(args)
        .env("ERASE_DISKS", &dev)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| exec::spawn_error("setup-disk", e))?;
    exec::check_status("setup-disk", &args, status)?;
    exec::run("reboot", &[], None)
}

/// The largest disk (`/sys/class/block/X/device` exists) that blkid finds
/// nothing on.
fn empty_disk(ctx: &Ctx) -> Result<Option<String>> {
    let class = ctx.root.path("/sys/class/block");
    let Ok(entries) = std::fs::read_dir(&class) else {
        return Ok(None);
    };
    let mut disks: Vec<(u64, String)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if std::fs::symlink_metadata(entry.path().join("device")).is_err() {
            continue;
        }
        let size = ctx
            .root
            .read_value(&format!("/sys/class/block/{name}/size"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if size > 0 {
            disks.push((size, name));
        }
    }
    disks.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, name) in disks {
        let (found, out) = exec::output("blkid", &[&format!("/dev/{name}")])?;
        if !found || out.trim().is_empty() {
            return Ok(Some(name));
        }
        ctx.note(&format!("/dev/{name} is in use: {}", out.trim()));
    }
    Ok(None)
}

/// What `tiny-cloud --disable` does: every `tiny-cloud*` runlevel link goes.
fn remove_runlevel_links(ctx: &Ctx) -> Result<()> {
    let Ok(levels) = std::fs::read_dir(ctx.root.path("/etc/runlevels")) else {
        return Ok(());
    };
    for level in levels.flatten() {
        let Ok(entries) = std::fs::read_dir(level.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if is_link
                && entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("tiny-cloud")
            {
                ctx.root.remove_file(&entry.path())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        assert_eq!(
            relative_path("/etc/apk", "/var/cache/apk"),
            "../../var/cache/apk"
        );
        assert_eq!(relative_path("/etc/apk", "/etc/apk/c"), "c");
        assert_eq!(
            relative_path("/etc/apk", "/media/vda/cache/"),
            "../../media/vda/cache"
        );
    }

    #[test]
    fn releases() {
        assert_eq!(release_dir("3.20.3").as_deref(), Some("v3.20"));
        assert_eq!(release_dir("3.21.0_alpha20240807").as_deref(), Some("edge"));
        assert_eq!(release_dir("edge").as_deref(), Some("edge"));
        assert_eq!(release_dir(""), None);
        assert_eq!(release_dir("x.y"), None);
    }

    #[test]
    fn appended_once() {
        assert!(already_appended(b"a\nb=1\n", b"b=1\n"));
        assert!(!already_appended(b"a\nxb=1\n", b"b=1\n"));
        assert!(!already_appended(b"", b"x"));
    }
}
