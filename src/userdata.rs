//! User-data types (contract §5) and what each one's handler adds to the
//! main and final phases (contract §4).

use crate::settings::Phase;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserDataType {
    Missing,
    Script,
    CloudConfig,
    AlpineConfig,
    /// `#word` that no handler knows, or text with no header at all.
    Unknown(String),
}

impl UserDataType {
    /// Classifies by the first line of the saved user-data file.
    pub fn of_file(path: &Path) -> UserDataType {
        let Ok(file) = std::fs::File::open(path) else {
            return UserDataType::Missing;
        };
        let mut first = Vec::new();
        // Only the header matters; don't read a huge file to find it.
        let _ = BufReader::new(file)
            .take(4096)
            .read_until(b'\n', &mut first);
        UserDataType::of_first_line(&String::from_utf8_lossy(&first))
    }

    pub fn of_first_line(line: &str) -> UserDataType {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            return UserDataType::Missing;
        }
        if line.starts_with("#!") {
            return UserDataType::Script;
        }
        let word = line.split_whitespace().next().unwrap_or("");
        match word {
            "#cloud-config" => UserDataType::CloudConfig,
            "#alpine-config" => UserDataType::AlpineConfig,
            w if w.starts_with('#') && w.len() > 1 => UserDataType::Unknown(w[1..].to_string()),
            _ => UserDataType::Unknown(String::new()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            UserDataType::Missing => "missing",
            UserDataType::Script => "script",
            UserDataType::CloudConfig => "cloud-config",
            UserDataType::AlpineConfig => "alpine-config",
            UserDataType::Unknown(w) if !w.is_empty() => w,
            UserDataType::Unknown(_) => "unknown",
        }
    }

    /// Inserts the handler's actions into a phase's list.
    pub fn add_actions(&self, phase: Phase, list: &mut Vec<String>) {
        match (self, phase) {
            (UserDataType::Missing, Phase::Main) => list.insert(0, "missing_userdata".into()),
            (UserDataType::Unknown(_), Phase::Main) => list.insert(0, "unknown_userdata".into()),
            (UserDataType::Script, Phase::Final) => list.push("run_userdata".into()),
            (UserDataType::CloudConfig | UserDataType::AlpineConfig, _) => {
                crate::config::add_actions(phase, list)
            }
            _ => {}
        }
    }
}

/// Puts `new` right before `anchor`, or at the end when the list lacks it.
pub fn insert_before(list: &mut Vec<String>, anchor: &str, new: &[&str]) {
    let at = list.iter().position(|a| a == anchor).unwrap_or(list.len());
    list.splice(at..at, new.iter().map(|s| s.to_string()));
}

/// Puts `new` right after `anchor`, or at the end when the list lacks it.
pub fn insert_after(list: &mut Vec<String>, anchor: &str, new: &[&str]) {
    let at = list
        .iter()
        .position(|a| a == anchor)
        .map_or(list.len(), |i| i + 1);
    list.splice(at..at, new.iter().map(|s| s.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        use UserDataType::*;
        assert_eq!(UserDataType::of_first_line(""), Missing);
        assert_eq!(UserDataType::of_first_line("#!/bin/sh\n"), Script);
        assert_eq!(UserDataType::of_first_line("#cloud-config\n"), CloudConfig);
        assert_eq!(UserDataType::of_first_line("#alpine-config"), AlpineConfig);
        assert_eq!(
            UserDataType::of_first_line("#include x\n"),
            Unknown("include".into())
        );
        assert_eq!(UserDataType::of_first_line("hello\n").name(), "unknown");
        assert_eq!(
            UserDataType::of_first_line("#cloud-config\r\n"),
            CloudConfig
        );
    }

    #[test]
    fn handlers_add_actions() {
        let mut main = vec!["create_default_user".to_string()];
        UserDataType::Missing.add_actions(Phase::Main, &mut main);
        assert_eq!(main.join(" "), "missing_userdata create_default_user");
        let mut fin = vec![];
        UserDataType::Script.add_actions(Phase::Final, &mut fin);
        assert_eq!(fin.join(" "), "run_userdata");
    }
}
