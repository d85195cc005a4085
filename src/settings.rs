//! Settings: `$ROOT/etc/tiny-cloud.conf` (shell-style assignments) overridden
//! by environment variables of the same name, validated once, up front, so a
//! typo is reported before anything on the machine changes.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CONF_PATH: &str = "/etc/tiny-cloud.conf";

/// The phases, in boot order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Boot,
    Early,
    Main,
    Final,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Boot, Phase::Early, Phase::Main, Phase::Final];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Boot => "boot",
            Phase::Early => "early",
            Phase::Main => "main",
            Phase::Final => "final",
        }
    }

    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }

    fn actions_key(self) -> &'static str {
        match self {
            Phase::Boot => "INIT_ACTIONS_BOOT",
            Phase::Early => "INIT_ACTIONS_EARLY",
            Phase::Main => "INIT_ACTIONS_MAIN",
            Phase::Final => "INIT_ACTIONS_FINAL",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Prefix of every path; `/` on a real machine.
    pub root: PathBuf,
    /// `auto` or a cloud name (already mapped from the `alpine` alias).
    pub cloud: String,
    pub cloud_user: String,
    pub var_dir: PathBuf,
    pub log_dir: PathBuf,
    pub imds_endpoint: Option<String>,
    pub imds_token_ttl: u32,
    pub imds_deadline: Duration,
    pub skip_actions: Vec<String>,
    /// Per phase, the list that replaces the default one, when set.
    pub init_actions: [Option<Vec<String>>; 4],
    pub hotplug_type: String,
    pub hotplug_modules: Vec<String>,
    /// Tenths of a second to wait for a link to come up.
    pub link_wait_max: u32,
    /// Warnings found while loading (deprecated values), logged by the caller.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Loads settings from the process environment and the config file.
    pub fn from_env() -> Result<Settings> {
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Settings::load(&env)
    }

    pub fn load(env: &HashMap<String, String>) -> Result<Settings> {
        let root = match env.get("ROOT").map(String::as_str) {
            None | Some("") => PathBuf::from("/"),
            Some(r) => PathBuf::from(r),
        };
        let conf_file = join_root(&root, CONF_PATH);
        let mut values: HashMap<String, String> = match std::fs::read(&conf_file) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::msg(format!("{}: not valid UTF-8", conf_file.display())))?;
                parse_conf(&text)
                    .map_err(|e| Error::msg(format!("{}:{e}", conf_file.display())))?
                    .into_iter()
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                return Err(Error::msg(format!(
                    "cannot read {}: {e}",
                    conf_file.display()
                )));
            }
        };
        for (k, v) in env {
            if k != "ROOT" {
                values.insert(k.clone(), v.clone());
            }
        }
        Settings::from_values(root, &values)
    }

    fn from_values(root: PathBuf, values: &HashMap<String, String>) -> Result<Settings> {
        let get = |key: &str| {
            values
                .get(key)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let mut warnings = Vec::new();

        let cloud_value = get("CLOUD").unwrap_or("auto");
        let cloud = match cloud_value {
            "alpine" => {
                warnings.push("CLOUD=alpine is deprecated; use CLOUD=nocloud".to_string());
                "nocloud".to_string()
            }
            other => other.to_string(),
        };
        if cloud != "auto" && !crate::cloud::is_compiled_in(&cloud) {
            let why = if crate::cloud::is_known(&cloud) {
                "is not compiled into this build"
            } else {
                "is not a known cloud"
            };
            // Name the value as the user wrote it (`alpine`, not `nocloud`).
            return Err(invalid(
                "CLOUD",
                cloud_value,
                &format!(
                    "{why}; this build has: {}",
                    crate::cloud::compiled_names().join(" ")
                ),
            ));
        }

        let cloud_user = get("CLOUD_USER").unwrap_or("alpine").to_string();
        if !crate::userdb::valid_name(&cloud_user) {
            return Err(invalid(
                "CLOUD_USER",
                &cloud_user,
                "is not a valid user name ([a-z_][a-z0-9_-]*, at most 32 characters)",
            ));
        }

        let var_dir = get("TINY_CLOUD_VAR")
            .map(PathBuf::from)
            .unwrap_or_else(|| join_root(&root, "/var/lib/cloud"));
        let log_dir = get("TINY_CLOUD_LOGS")
            .map(PathBuf::from)
            .unwrap_or_else(|| join_root(&root, "/var/log"));

        let number = |key: &str, default: u32| -> Result<u32> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| invalid(key, v, "is not a whole number")),
            }
        };
        let imds_token_ttl = number("IMDS_TOKEN_TTL", 5)?;
        if imds_token_ttl == 0 || imds_token_ttl > 21600 {
            return Err(invalid(
                "IMDS_TOKEN_TTL",
                &imds_token_ttl.to_string(),
                "must be between 1 and 21600 seconds",
            ));
        }
        let imds_deadline = Duration::from_secs(u64::from(number("IMDS_DEADLINE", 10)?));
        let link_wait_max = number("TINY_CLOUD_LINK_WAIT_MAX", 10)?;

        let imds_endpoint = get("IMDS_ENDPOINT").map(str::to_string);
        if let Some(ep) = &imds_endpoint {
            if !ep.starts_with('/') {
                crate::http::parse_authority(ep)
                    .map_err(|why| invalid("IMDS_ENDPOINT", ep, &why))?;
            }
        }

        let words = |key: &str| -> Vec<String> {
            get(key)
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let mut init_actions: [Option<Vec<String>>; 4] = Default::default();
        for (slot, phase) in init_actions.iter_mut().zip(Phase::ALL) {
            let key = phase.actions_key();
            // Set-but-empty is meaningful: "run nothing in this phase".
            if let Some(v) = values.get(key) {
                let list: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                if let Some(bad) = list.iter().find(|a| !crate::actions::exists(a)) {
                    return Err(invalid(key, v, &format!("names an unknown action '{bad}'")));
                }
                *slot = Some(list);
            }
        }

        let hotplug_type = get("HOTPLUG_TYPE").unwrap_or("mdev").to_string();
        if hotplug_type != "mdev" {
            return Err(invalid(
                "HOTPLUG_TYPE",
                &hotplug_type,
                "is not supported (only mdev)",
            ));
        }

        Ok(Settings {
            root,
            cloud,
            cloud_user,
            var_dir,
            log_dir,
            imds_endpoint,
            imds_token_ttl,
            imds_deadline,
            skip_actions: words("SKIP_INIT_ACTIONS"),
            init_actions,
            hotplug_type,
            hotplug_modules: words("HOTPLUG_MODULES"),
            link_wait_max,
            warnings,
        })
    }

    pub fn init_actions(&self, phase: Phase) -> Option<&[String]> {
        let index = Phase::ALL.iter().position(|p| *p == phase)?;
        self.init_actions[index].as_deref()
    }

    pub fn is_skipped(&self, action: &str) -> bool {
        self.skip_actions.iter().any(|s| s == action)
    }

    pub fn marker_path(&self) -> PathBuf {
        self.var_dir.join(".bootstrap-complete")
    }
}

fn invalid(key: &str, value: &str, why: &str) -> Error {
    Error::msg(format!("invalid setting {key}='{value}': {why}"))
}

/// `root` + an absolute path, without letting `..` or a second `/` escape.
pub fn join_root(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Parses shell-style `KEY=value` assignments the way `sh` would for the
/// simple cases a config file uses: quotes, backslashes, comments, `export`.
/// Variable expansion is deliberately not done; values are taken literally.
pub fn parse_conf(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let lineno = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(format!("{lineno}: expected KEY=value, found '{line}'"));
        };
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("{lineno}: '{key}' is not a valid variable name"));
        }
        let value = parse_shell_word(rest).map_err(|e| format!("{lineno}: {key}: {e}"))?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// One shell word (with quoted parts), then only whitespace or a comment.
fn parse_shell_word(s: &str) -> Result<String, String> {
    let mut value = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err("unterminated single quote".into()),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | '$' | '`')) => value.push(c),
                        Some(c) => {
                            value.push('\\');
                            value.push(c);
                        }
                        None => return Err("unterminated double quote".into()),
                    },
                    Some(c) => value.push(c),
                    None => return Err("unterminated double quote".into()),
                }
            },
            '\\' => match chars.next() {
                Some(c) => value.push(c),
                None => return Err("trailing backslash".into()),
            },
            c if c.is_whitespace() => {
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    return Ok(value);
                }
                return Err(format!("unquoted space before '{rest}' (quote the value)"));
            }
            c => value.push(c),
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_forms() {
        let text = "# c\n\nA=1\nB=\"two words\" # trailing\nC='$x \"y\"'\nexport D=d\nE=\nF=a\"b\"'c'\nG=\"q\\\"q\"\n";
        let got = parse_conf(text).unwrap();
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "$x \"y\""),
            ("D", "d"),
            ("E", ""),
            ("F", "abc"),
            ("G", "q\"q"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }

    #[test]
    fn conf_errors_name_the_line() {
        assert_eq!(
            parse_conf("A=1\nB='x\n").unwrap_err(),
            "2: B: unterminated single quote"
        );
        assert!(
            parse_conf("just words\n")
                .unwrap_err()
                .starts_with("1: expected")
        );
        assert!(
            parse_conf("1A=x\n")
                .unwrap_err()
                .contains("not a valid variable name")
        );
        assert!(
            parse_conf("A=x y\n")
                .unwrap_err()
                .contains("unquoted space")
        );
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings> {
        let mut env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.entry("ROOT".into())
            .or_insert_with(|| "/nonexistent-tiny-cloud-root".into());
        Settings::load(&env)
    }

    #[test]
    fn defaults() {
        let s = load(&[]).unwrap();
        assert_eq!(s.cloud, "auto");
        assert_eq!(s.cloud_user, "alpine");
        assert_eq!(
            s.var_dir,
            Path::new("/nonexistent-tiny-cloud-root/var/lib/cloud")
        );
        assert_eq!(s.imds_deadline, Duration::from_secs(10));
        assert_eq!(s.link_wait_max, 10);
    }

    #[test]
    fn invalid_values_name_key_and_value() {
        let e = load(&[("IMDS_DEADLINE", "soon")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid setting IMDS_DEADLINE='soon': is not a whole number"
        );
        let e = load(&[("CLOUD", "mars")]).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid setting CLOUD='mars': is not a known cloud"),
            "{e}"
        );
        let e = load(&[("CLOUD_USER", "Bad:Name")]).unwrap_err().to_string();
        assert!(e.contains("CLOUD_USER='Bad:Name'"), "{e}");
        let e = load(&[("INIT_ACTIONS_MAIN", "set_hostname nope")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown action 'nope'"), "{e}");
    }

    #[test]
    fn alpine_is_nocloud_with_a_warning() {
        if !crate::cloud::is_compiled_in("nocloud") {
            return;
        }
        let s = load(&[("CLOUD", "alpine")]).unwrap();
        assert_eq!(s.cloud, "nocloud");
        assert_eq!(s.warnings.len(), 1);
    }
}
