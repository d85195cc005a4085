//! The `Cloud` trait every provider implements, the table of compiled-in
//! providers, and autodetection (contract §6).

use crate::error::{Error, Result};
use crate::root::{FileSpec, Root};
use crate::settings::Settings;

/// What the rest of tiny-cloud asks of a cloud. Everything is fetched on
/// demand; a provider may cache what it fetched for the rest of the process.
pub trait Cloud {
    fn name(&self) -> &'static str;

    /// The instance's name (FQDN or short). `Error::NotFound` when it has none.
    fn hostname(&mut self) -> Result<String>;

    /// Same as `hostname` on clouds with one name.
    fn local_hostname(&mut self) -> Result<String> {
        self.hostname()
    }

    /// SSH public keys, one per entry, in the cloud's order (may be empty).
    fn ssh_keys(&mut self) -> Result<Vec<String>>;

    /// User-data as stored by the cloud (base64 already undone, not
    /// decompressed). `Error::NotFound` when there is none.
    fn userdata(&mut self) -> Result<Vec<u8>>;

    /// A raw, cloud-relative metadata path (the `imds PATH` form).
    fn query(&mut self, path: &str) -> Result<Vec<u8>>;

    /// `@nics`: the cloud's list of network interfaces (by MAC).
    fn nics(&mut self) -> Result<Vec<u8>> {
        Err(Error::msg(format!(
            "@nics is not supported on {}",
            self.name()
        )))
    }

    /// `@nic:IFACE,KEY`: one AWS-style key of the interface with this MAC.
    fn nic_query(&mut self, _mac: &str, key: &str) -> Result<Vec<u8>> {
        Err(Error::msg(format!(
            "@nic:…,{key} is not supported on {}",
            self.name()
        )))
    }

    /// The boot-phase action that writes `/etc/network/interfaces`.
    fn network_action(&self) -> &'static str {
        "set_default_interfaces"
    }

    /// Whether the metadata can only be reached after a temporary DHCP lease.
    fn needs_ephemeral_network(&mut self, _root: &Root) -> Result<bool> {
        Ok(false)
    }

    /// A cloud-provided `/etc/network/interfaces` (NoCloud `network-interfaces`).
    fn network_interfaces(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Name servers for `/etc/resolv.conf` when the network is static.
    fn nameservers(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// One compiled-in provider.
pub struct CloudInfo {
    pub name: &'static str,
    /// Whether this machine shows the provider's signs (read under ROOT).
    pub detect: fn(&Root) -> bool,
    pub open: fn(&Settings, &Root) -> Result<Box<dyn Cloud>>,
}

/// Every cloud tiny-cloud knows, compiled in or not, for clear error messages.
pub const KNOWN: &[&str] = &[
    "aws",
    "azure",
    "gcp",
    "oci",
    "nocloud",
    "hetzner",
    "digitalocean",
    "scaleway",
    "incus",
];

pub fn compiled() -> &'static [CloudInfo] {
    crate::clouds::ALL
}

/// The compiled-in clouds in the canonical order of `KNOWN` (as `--version`
/// and error messages list them), not the table's detection order.
pub fn compiled_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = compiled().iter().map(|c| c.name).collect();
    names.sort_by_key(|n| KNOWN.iter().position(|k| k == n).unwrap_or(KNOWN.len()));
    names
}

pub fn is_compiled_in(name: &str) -> bool {
    compiled().iter().any(|c| c.name == name)
}

pub fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

fn info(name: &str) -> Option<&'static CloudInfo> {
    compiled().iter().find(|c| c.name == name)
}

/// A DMI attribute, as the kernel exposes it under `/sys/class/dmi/id`.
pub fn dmi(root: &Root, key: &str) -> Option<String> {
    root.read_value(&format!("/sys/class/dmi/id/{key}"))
}

/// The cloud whose signs this machine shows, first match in table order.
fn detect(root: &Root) -> Option<&'static CloudInfo> {
    compiled().iter().find(|c| (c.detect)(root))
}

fn cache_path(settings: &Settings) -> std::path::PathBuf {
    settings.var_dir.join(".autodetect")
}

/// The name `tiny-cloud autodetect` prints: the configured cloud, the cached
/// or detected one, the only compiled-in one, or `unknown`.
pub fn effective_name(settings: &Settings, root: &Root) -> String {
    if settings.cloud != "auto" {
        return settings.cloud.clone();
    }
    if let Some(cached) = read_cache(settings) {
        return cached.name.to_string();
    }
    if let Some(found) = detect(root) {
        return found.name.to_string();
    }
    match compiled() {
        [only] => only.name.to_string(),
        _ => "unknown".to_string(),
    }
}

fn read_cache(settings: &Settings) -> Option<&'static CloudInfo> {
    let text = std::fs::read_to_string(cache_path(settings)).ok()?;
    info(text.trim())
}

/// Picks the cloud a phase (or `imds`) uses. Phases cache a detection so
/// later phases and `imds` agree even if the signs change meanwhile.
pub fn select(settings: &Settings, root: &Root, write_cache: bool) -> Result<&'static CloudInfo> {
    if settings.cloud != "auto" {
        return info(&settings.cloud).ok_or_else(|| {
            Error::msg(format!(
                "cloud '{}' is not compiled into this build",
                settings.cloud
            ))
        });
    }
    if let Some(cached) = read_cache(settings) {
        return Ok(cached);
    }
    let found = match detect(root) {
        Some(found) => found,
        None => match compiled() {
            [only] => only,
            _ => {
                return Err(Error::msg(format!(
                    "cannot tell which cloud this is (autodetect found no signs); \
                     set CLOUD in /etc/tiny-cloud.conf to one of: {}",
                    compiled_names().join(" ")
                )));
            }
        },
    };
    if write_cache {
        let text = format!("{}\n", found.name);
        root.write(
            &cache_path(settings),
            text.as_bytes(),
            FileSpec::mode(0o644),
        )?;
    }
    Ok(found)
}

pub fn open(settings: &Settings, root: &Root, write_cache: bool) -> Result<Box<dyn Cloud>> {
    let info = select(settings, root, write_cache)?;
    (info.open)(settings, root)
}
