//! Disk, hotplug, service and marker actions.

use super::Ctx;
use crate::error::{Error, Result};
use crate::exec;
use crate::root::{FileSpec, Root};
use std::path::Path;

/// Grows the root partition to the end of its disk, then the ext2/3/4 fs.
pub fn expand_root(ctx: &mut Ctx) -> Result<()> {
    let mounts = ctx
        .root
        .read_opt(&ctx.root.path("/proc/mounts"))?
        .unwrap_or_default();
    let Some((device, fstype)) = root_mount(&mounts) else {
        ctx.note("no root filesystem in /proc/mounts; nothing to do");
        return Ok(());
    };
    if !matches!(fstype.as_str(), "ext2" | "ext3" | "ext4") {
        ctx.note(&format!(
            "root filesystem is {fstype}, not ext2/3/4; nothing to do"
        ));
        return Ok(());
    }
    let name = if device == "/dev/root" {
        resolve_dev_root(&ctx.root)
            .ok_or_else(|| Error::msg("cannot find the block device behind /dev/root in /sys"))?
    } else {
        device.strip_prefix("/dev/").unwrap_or(&device).to_string()
    };
    let dev = format!("/dev/{name}");
    let class = ctx.root.path(&format!("/sys/class/block/{name}"));
    if let Some(number) = ctx
        .root
        .read_value(&format!("/sys/class/block/{name}/partition"))
    {
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::msg(format!(
                "{name}: unexpected partition number '{number}'"
            )));
        }
        let disk = parent_disk(&class, &name)
            .ok_or_else(|| Error::msg(format!("cannot find the disk that holds {name}")))?;
        let disk = format!("/dev/{disk}");
        ctx.note(&format!("growing partition {number} of {disk}"));
        exec::run(
            "sfdisk",
            &["-q", "--no-reread", "-N", &number, &disk],
            Some(b", +\n"),
        )?;
        exec::run("partx", &["-u", &disk], None)?;
    }
    ctx.note(&format!("resizing {fstype} on {dev}"));
    exec::run("resize2fs", &[&dev], None)
}

/// The device and type of the last mount on `/` (the one in effect).
fn root_mount(mounts: &str) -> Option<(String, String)> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[1] == "/").then(|| (f[0].to_string(), f[2].to_string()))
        })
        .next_back()
}

/// `/dev/root` is a kernel alias; find the real device by its major:minor,
/// from mountinfo (or, on the live system, by stat), matched in /sys.
fn resolve_dev_root(root: &Root) -> Option<String> {
    let from_mountinfo = root
        .read_opt(&root.path("/proc/self/mountinfo"))
        .ok()
        .flatten()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 4 && f[4] == "/").then(|| f[2].to_string())
            })
        });
    let majmin = from_mountinfo.or_else(|| {
        use std::os::unix::fs::MetadataExt;
        if !root.is_host() {
            return None;
        }
        let dev = std::fs::metadata("/").ok()?.dev();
        // glibc's gnu_dev_major/minor encoding of a Linux dev_t.
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        Some(format!("{major}:{minor}"))
    })?;
    let link = root.path(&format!("/sys/dev/block/{majmin}"));
    if let Ok(target) = std::fs::read_link(&link) {
        return target.file_name().map(|n| n.to_string_lossy().into_owned());
    }
    let entries = std::fs::read_dir(root.path("/sys/class/block")).ok()?;
    entries.flatten().find_map(|e| {
        let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
        (dev.trim() == majmin).then(|| e.file_name().to_string_lossy().into_owned())
    })
}

/// The disk a partition belongs to: its parent in the /sys device tree, or,
/// where /sys is flat (tests, odd drivers), the name minus its number.
fn parent_disk(class_entry: &Path, name: &str) -> Option<String> {
    if let Ok(real) = std::fs::canonicalize(class_entry) {
        if let Some(parent) = real.parent() {
            if parent.join("dev").exists() {
                return parent.file_name().map(|n| n.to_string_lossy().into_owned());
            }
        }
    }
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let stem = match stem.strip_suffix('p') {
        // nvme0n1p1, mmcblk0p1: the `p` separates a disk name ending in a digit.
        Some(s) if s.ends_with(|c: char| c.is_ascii_digit()) => s,
        _ => stem,
    };
    (!stem.is_empty() && stem != name).then(|| stem.to_string())
}

/// mdev rules for hotplug modules: (module, handler script, rule, rule to go before).
const HOTPLUG_MODULES: &[(&str, &str, &str, &str)] = &[
    (
        "vnic_eth_hotplug",
        "/lib/mdev/vnic-eth-hotplug",
        "eth[0-9]\troot:root 0644 */lib/mdev/vnic-eth-hotplug",
        "eth",
    ),
    (
        "nvme_ebs_links",
        "/lib/mdev/nvme-ebs-links",
        "nvme[0-9]+n.*\troot:disk 0660 */lib/mdev/nvme-ebs-links",
        "nvme",
    ),
];

/// Installs the mdev rules of `HOTPLUG_MODULES`, each once.
pub fn install_hotplugs(ctx: &mut Ctx) -> Result<()> {
    if ctx.settings.hotplug_modules.is_empty() {
        ctx.note("no hotplug modules configured");
        return Ok(());
    }
    let conf = ctx.root.path("/etc/mdev.conf");
    let mut text = ctx.root.read_opt(&conf)?.unwrap_or_default();
    for module in ctx.settings.hotplug_modules.clone() {
        let Some((_, script, rule, before)) = HOTPLUG_MODULES.iter().find(|m| m.0 == module) else {
            return Err(Error::msg(format!("unknown hotplug module '{module}'")));
        };
        if !ctx.root.exists(script) {
            return Err(Error::msg(format!(
                "{module}: needs {script}, which is not installed"
            )));
        }
        if text.lines().any(|l| l == *rule) {
            ctx.note(&format!("{module}: already installed"));
            continue;
        }
        text = insert_rule(&text, rule, before);
        ctx.note(&format!("{module}: installed"));
    }
    ctx.root
        .write(&conf, text.as_bytes(), FileSpec::mode(0o644))
}

/// A device's own rule must come before the generic one for its name (mdev
/// uses the first match), else before the `# fallback` section, else at the end.
fn insert_rule(text: &str, rule: &str, before: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(before))
        .or_else(|| lines.iter().position(|l| l.starts_with("# fallback")))
        .unwrap_or(lines.len());
    let mut out: Vec<&str> = lines[..at].to_vec();
    out.push(rule);
    out.extend_from_slice(&lines[at..]);
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// What `rc-update add sshd default` does: one link in the default runlevel.
pub fn enable_sshd(ctx: &mut Ctx) -> Result<()> {
    let link = ctx.root.path("/etc/runlevels/default/sshd");
    if ctx.root.symlink("/etc/init.d/sshd", &link)? {
        ctx.note("sshd added to the default runlevel");
    } else {
        ctx.note("already enabled");
    }
    Ok(())
}

pub fn bootstrap_complete(ctx: &mut Ctx) -> Result<()> {
    ctx.root
        .write(&ctx.settings.marker_path(), b"", FileSpec::mode(0o644))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_mount_takes_the_last() {
        let m = "rootfs / rootfs rw 0 0\n/dev/vda2 / ext4 rw 0 0\nproc /proc proc rw 0 0\n";
        assert_eq!(root_mount(m), Some(("/dev/vda2".into(), "ext4".into())));
        assert_eq!(root_mount("garbage\n\n"), None);
    }

    #[test]
    fn parent_by_name() {
        let nowhere = Path::new("/nonexistent");
        assert_eq!(parent_disk(nowhere, "vda1").as_deref(), Some("vda"));
        assert_eq!(
            parent_disk(nowhere, "nvme0n1p12").as_deref(),
            Some("nvme0n1")
        );
        assert_eq!(
            parent_disk(nowhere, "mmcblk0p2").as_deref(),
            Some("mmcblk0")
        );
        assert_eq!(parent_disk(nowhere, "xvda"), None);
    }

    #[test]
    fn rules_go_before_the_generic_one() {
        let conf = "null 0:0 666\neth.* root:root 0644\n# fallback\n.* root:root 0600\n";
        let out = insert_rule(conf, "eth[0-9]\tX", "eth");
        assert_eq!(
            out,
            "null 0:0 666\neth[0-9]\tX\neth.* root:root 0644\n# fallback\n.* root:root 0600\n"
        );
        let out = insert_rule("a\n# fallback\nb\n", "nvme R", "nvme");
        assert_eq!(out, "a\nnvme R\n# fallback\nb\n");
    }
}
