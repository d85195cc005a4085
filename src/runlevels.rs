//! OpenRC runlevel links for tiny-cloud's own services: `--enable` and
//! `--disable`, and `autoinstall`, which must not carry them to the new disk.

use crate::error::Result;
use crate::root::Root;

/// Each service and the runlevel it belongs in.
const SERVICES: [(&str, &str); 4] = [
    ("tiny-cloud-boot", "boot"),
    ("tiny-cloud-early", "default"),
    ("tiny-cloud-main", "default"),
    ("tiny-cloud-final", "default"),
];

/// Removes every `tiny-cloud*` link under `/etc/runlevels/*/`.
pub fn remove(root: &Root) -> Result<()> {
    let Ok(levels) = std::fs::read_dir(root.path("/etc/runlevels")) else {
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
                root.remove_file(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// Links each service into its runlevel (after clearing any old links).
pub fn enable(root: &Root) -> Result<()> {
    remove(root)?;
    for (service, level) in SERVICES {
        let link = root.path(&format!("/etc/runlevels/{level}/{service}"));
        root.symlink(&format!("/etc/init.d/{service}"), &link)?;
    }
    Ok(())
}
