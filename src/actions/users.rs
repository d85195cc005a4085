//! The default user, the hostname and SSH keys.

use super::Ctx;
use crate::error::{Error, Result};
use crate::root::{FileSpec, Owner};
use crate::userdb::{User, UserDb};
use std::path::Path;

pub fn create_default_user(ctx: &mut Ctx) -> Result<()> {
    let name = ctx.settings.cloud_user.clone();
    let mut db = UserDb::load(&ctx.root)?;
    if db.user(&name).is_some() {
        ctx.note("already exists");
        return Ok(());
    }
    // A user-data entry for the default user shapes it (gecos, shell, …).
    let (spec, home) = super::cc_users::default_user_spec(ctx, &name);
    let (user, _) = db.ensure_user(&spec)?;
    db.ensure_group("wheel", true)?;
    db.add_member("wheel", &name)?;
    // Home before passwd: once the user "exists", a re-run won't make it.
    if home {
        make_home(ctx, &user)?;
    }
    db.save(&ctx.root)?;
    ctx.note(&format!(
        "created {name} (uid {}), member of wheel",
        user.uid
    ));

    if ctx.root.path("/etc/sudoers.d").is_dir() {
        let path = ctx.root.path("/etc/sudoers.d/wheel");
        ctx.root.write(
            &path,
            b"%wheel ALL=(ALL) NOPASSWD: ALL\n",
            FileSpec::mode(0o440),
        )?;
    }
    let rule = "permit nopass :wheel".to_string();
    if ctx.root.path("/etc/doas.d").is_dir() {
        let path = ctx.root.path("/etc/doas.d/wheel.conf");
        ctx.root.add_lines(&path, &[rule], FileSpec::mode(0o600))?;
    } else if ctx.root.path("/etc/doas.conf").is_file() {
        ctx.root.add_lines(
            &ctx.root.path("/etc/doas.conf"),
            &[rule],
            FileSpec::mode(0o600),
        )?;
    }
    Ok(())
}

/// Creates the home directory (0755) from /etc/skel, owned by the user.
pub fn make_home(ctx: &Ctx, user: &User) -> Result<()> {
    let home = ctx.root.path(&user.home);
    if home.exists() {
        return Ok(());
    }
    ctx.root.ensure_private_dir(&home, 0o755, user.owner())?;
    copy_tree(&ctx.root.path("/etc/skel"), &home, user.owner())
}

fn copy_tree(from: &Path, to: &Path, owner: Owner) -> Result<()> {
    use crate::error::IoContext;
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src).at("stat", &src)?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&src).at("read link", &src)?;
            std::os::unix::fs::symlink(&target, &dst).at("create link", &dst)?;
        } else if meta.is_dir() {
            std::fs::create_dir(&dst).at("create directory", &dst)?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))
                .at("chmod", &dst)?;
            copy_tree(&src, &dst, owner)?;
        } else if meta.is_file() {
            std::fs::copy(&src, &dst).at("copy to", &dst)?;
        } else {
            continue;
        }
        crate::root::chown(&dst, owner)?;
    }
    Ok(())
}

/// RFC 1123: labels of 1–63 letters, digits and inner hyphens; ≤ 253 in all.
pub fn valid_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub fn set_hostname(ctx: &mut Ctx) -> Result<()> {
    let fqdn = match ctx.cloud.hostname() {
        Ok(name) => name.trim().to_string(),
        Err(Error::NotFound(_)) => String::new(),
        Err(e) => return Err(e),
    };
    if fqdn.is_empty() {
        ctx.note("no hostname set");
        return Ok(());
    }
    if !valid_hostname(&fqdn) {
        return Err(Error::msg(format!(
            "invalid hostname '{}' from metadata",
            fqdn.escape_debug()
        )));
    }
    let fqdn = fqdn.strip_suffix('.').unwrap_or(&fqdn).to_string();
    let short = fqdn.split('.').next().unwrap_or(&fqdn).to_string();

    ctx.root.write(
        &ctx.root.path("/etc/hostname"),
        format!("{short}\n").as_bytes(),
        FileSpec::mode(0o644),
    )?;
    let hosts_path = ctx.root.path("/etc/hosts");
    let hosts = ctx.root.read_opt(&hosts_path)?.unwrap_or_default();
    let ours = format!("127.0.1.1\t{fqdn} {short}");
    let mut lines: Vec<&str> = Vec::new();
    let mut placed = false;
    for line in hosts.lines() {
        if line.split_whitespace().next() == Some("127.0.1.1") {
            // The first one becomes ours, in place; any others go.
            if !placed {
                lines.push(&ours);
                placed = true;
            }
        } else {
            lines.push(line);
        }
    }
    if !placed {
        lines.push(&ours);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    ctx.root
        .write(&hosts_path, text.as_bytes(), FileSpec::mode(0o644))?;

    if ctx.root.is_host() {
        rustix::system::sethostname(short.as_bytes())
            .map_err(|e| Error::msg(format!("cannot set the kernel hostname: {e}")))?;
    }
    ctx.note(&format!("hostname {short} ({fqdn})"));
    Ok(())
}

pub fn set_ssh_keys(ctx: &mut Ctx) -> Result<()> {
    let keys = ctx.cloud.ssh_keys()?;
    if keys.is_empty() {
        ctx.note("no ssh key found");
        return Ok(());
    }
    let name = ctx.settings.cloud_user.clone();
    let user = UserDb::load(&ctx.root)?
        .user(&name)
        .ok_or_else(|| Error::msg(format!("user {name} does not exist")))?;
    let added = install_keys(ctx, &user, &keys)?;
    ctx.note(&format!("{added} key(s) added for {name}"));
    Ok(())
}

/// Adds each key once to the user's `~/.ssh/authorized_keys` (0700/0600,
/// owned by the user), keeping lines already there. Symlinks are refused,
/// never followed: a user-writable home must not redirect root's writes.
pub fn install_keys(ctx: &Ctx, user: &User, keys: &[String]) -> Result<usize> {
    let mut clean: Vec<String> = Vec::new();
    for key in keys {
        let key = key.trim();
        if key.is_empty() || key.starts_with('#') {
            continue;
        }
        if key.contains(['\n', '\r', '\0']) {
            return Err(Error::msg("an ssh key contains a line break"));
        }
        if !clean.iter().any(|k| k == key) {
            clean.push(key.to_string());
        }
    }
    let home = ctx.root.path(&user.home);
    if !home.is_dir() {
        return Err(Error::msg(format!(
            "home directory {} of {} does not exist",
            user.home, user.name
        )));
    }
    let ssh = home.join(".ssh");
    ctx.root.ensure_private_dir(&ssh, 0o700, user.owner())?;
    let keys_path = ssh.join("authorized_keys");
    if std::fs::symlink_metadata(&keys_path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::msg(format!(
            "refusing to use {}: it is a symlink",
            keys_path.display()
        )));
    }
    let added = ctx
        .root
        .add_lines(&keys_path, &clean, FileSpec::forced(0o600, user.owner()))?;
    // A file that was already there gets the contract's mode and owner too.
    use crate::error::IoContext;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keys_path, std::fs::Permissions::from_mode(0o600))
        .at("chmod", &keys_path)?;
    crate::root::chown(&keys_path, user.owner())?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::valid_hostname;

    #[test]
    fn hostnames() {
        for ok in [
            "a",
            "web-1",
            "ip-10-0-0-1.ec2.internal",
            "x.example.com.",
            "9",
        ] {
            assert!(valid_hostname(ok), "{ok}");
        }
        let long_label = "a".repeat(64);
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a_b",
            "a b",
            "bad;rm",
            long_label.as_str(),
            "ä",
        ] {
            assert!(!valid_hostname(bad), "{bad}");
        }
    }
}
