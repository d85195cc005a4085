//! `#cloud-config` / `#alpine-config`: the YAML user-data, parsed once per
//! process into typed, validated settings, and where its handler's actions
//! go in the phase lists.
//!
//! Everything is checked before any action changes anything: a bad document
//! fails the first user-data action of the phase with every problem named by
//! key path and line (`users[2].groups: … (line 14)`).

mod encoding;
mod parse;
pub(crate) mod yaml;

use crate::actions::Ctx;
use crate::error::{Error, Result};
use crate::settings::Phase;
use crate::userdata::{UserDataType, insert_after, insert_before};
use std::rc::Rc;

/// The YAML handlers' settings. Absent keys are empty / false.
#[derive(Debug, Default)]
pub struct Config {
    /// `user:` — the default user, when it names one.
    pub user: Option<UserSpec>,
    pub users: Vec<UserEntry>,
    pub groups: Vec<GroupSpec>,
    pub ssh_authorized_keys: Vec<String>,
    pub bootcmd: Vec<Command>,
    pub runcmd: Vec<Command>,
    pub write_files: Vec<WriteFile>,
    /// Present only when `ntp.enabled` is true.
    pub ntp: Option<NtpClient>,
    /// `apk:` was given at all (it turns off the `setup-apkrepos` default).
    pub apk_given: bool,
    pub apk_cache: Option<String>,
    pub apk_repositories: Vec<Repository>,
    pub package_update: bool,
    pub package_upgrade: bool,
    pub packages: Vec<String>,
    pub autoinstall: bool,
    /// Things worth a log line that are not errors (ignored keys, …).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEntry {
    /// `default`: the default user (`CLOUD_USER`).
    Default,
    User(Box<UserSpec>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    pub name: String,
    pub gecos: Option<String>,
    pub homedir: Option<String>,
    pub shell: Option<String>,
    pub primary_group: Option<String>,
    pub system: bool,
    pub no_create_home: bool,
    pub groups: Vec<String>,
    pub ssh_authorized_keys: Vec<String>,
    pub doas: Vec<String>,
    pub sudo: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: String,
    pub members: Vec<String>,
}

/// A `bootcmd` / `runcmd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A string: the user's own shell code, run with `sh -c`.
    Shell(String),
    /// A list: run as argv, no shell.
    Argv(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFile {
    /// Absolute, without `..`; relative to ROOT when written.
    pub path: String,
    /// Already decoded (base64, gzip, `!!binary`).
    pub content: Vec<u8>,
    pub mode: u32,
    /// `(user, group)`; `None` means root:root.
    pub owner: Option<(String, Option<String>)>,
    pub append: bool,
    pub defer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NtpClient {
    Busybox,
    Chrony,
    Openntpd,
}

impl NtpClient {
    /// (package to install, OpenRC service).
    pub fn parts(self) -> (Option<&'static str>, &'static str) {
        match self {
            NtpClient::Busybox => (None, "ntpd"),
            NtpClient::Chrony => (Some("chrony"), "chronyd"),
            NtpClient::Openntpd => (Some("openntpd"), "openntpd"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub base_url: String,
    /// `None`: from `/etc/os-release`; `Some("")`: no version part.
    pub version: Option<String>,
    pub repos: Vec<String>,
}

impl Config {
    /// Parses a whole user-data file (header line included, so that line
    /// numbers match the file). Every problem found is returned, each one
    /// line with its key path and line number.
    pub fn parse(text: &str) -> std::result::Result<Config, Vec<String>> {
        parse::config(text)
    }

    /// The user `user:` or a first non-`default` `users:` entry makes the
    /// default user (`user:` wins).
    pub fn default_user(&self) -> Option<&UserSpec> {
        self.user.as_ref().or(match self.users.first() {
            Some(UserEntry::User(spec)) => Some(&**spec),
            _ => None,
        })
    }
}

/// The parsed user-data of this run, read once and kept in `ctx`. The first
/// caller in main logs the warnings; a bad document is the caller's error.
pub fn load(ctx: &mut Ctx) -> Result<Rc<Config>> {
    if let Some(config) = &ctx.config {
        return Ok(Rc::clone(config));
    }
    let path = ctx.settings.var_dir.join("user-data");
    let config = match UserDataType::of_file(&path) {
        UserDataType::CloudConfig | UserDataType::AlpineConfig => {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::msg(format!("cannot read {}: {e}", path.display())))?;
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                Error::msg(format!("user-data is not UTF-8 text (line {line})"))
            })?;
            match Config::parse(text) {
                Ok(config) => config,
                Err(problems) => {
                    // One line each, so none is lost; the first is the reason.
                    if problems.len() > 1 {
                        for p in &problems {
                            ctx.log.error(&format!("{}: {p}", ctx.action));
                        }
                    }
                    let more = match problems.len() {
                        0 | 1 => String::new(),
                        n => format!(" (and {} more problem(s) above)", n - 1),
                    };
                    let first = problems.into_iter().next().unwrap_or_default();
                    return Err(Error::msg(format!("bad user-data: {first}{more}")));
                }
            }
        }
        _ => Config::default(),
    };
    // Main already said it; final parses again but need not repeat it.
    if ctx.phase != Phase::Final {
        for w in &config.warnings {
            ctx.warn(w);
        }
    }
    let config = Rc::new(config);
    ctx.config = Some(Rc::clone(&config));
    Ok(config)
}

/// Where the YAML handlers' actions go (contract §4).
pub fn add_actions(phase: Phase, list: &mut Vec<String>) {
    match phase {
        Phase::Main => {
            insert_before(list, "create_default_user", &["userdata_user"]);
            insert_after(
                list,
                "create_default_user",
                &["userdata_groups", "userdata_users"],
            );
            insert_after(
                list,
                "set_hostname",
                &[
                    "userdata_bootcmd",
                    "userdata_write_files",
                    "userdata_ntp",
                    "userdata_apk_cache",
                    "userdata_apk_repositories",
                    "userdata_package_update",
                    "userdata_package_upgrade",
                    "userdata_packages",
                ],
            );
            insert_after(list, "set_ssh_keys", &["ssh_authorized_keys"]);
        }
        Phase::Final => {
            // write_files again: the entries marked `defer` go in final.
            let at = list.len();
            list.splice(
                at..at,
                [
                    "userdata_write_files".to_string(),
                    "userdata_runcmd".to_string(),
                    "userdata_autoinstall".to_string(),
                ],
            );
        }
        _ => {}
    }
}
