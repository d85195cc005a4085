//! The phase runner: which actions a phase runs (defaults, `INIT_ACTIONS_*`,
//! the user-data handler's additions, `SKIP_INIT_ACTIONS`), running them in
//! order, stopping at the first failure, and the bootstrap marker.

use crate::actions::{self, Ctx};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::root::{FileSpec, Root};
use crate::settings::{Phase, Settings};
use crate::userdata::UserDataType;

/// The contract's default list for a phase on a given cloud.
pub fn default_actions(phase: Phase, network_action: &'static str) -> Vec<&'static str> {
    match phase {
        Phase::Boot => vec![
            "expand_root",
            "install_hotplugs",
            "set_ephemeral_network",
            network_action,
            "enable_sshd",
        ],
        Phase::Early => vec!["save_userdata"],
        Phase::Main => vec!["create_default_user", "set_hostname", "set_ssh_keys"],
        Phase::Final => vec![],
    }
}

/// The full, ordered list a phase will run (before skipping).
pub fn plan(settings: &Settings, phase: Phase, network_action: &'static str) -> Vec<String> {
    let mut list: Vec<String> = match settings.init_actions(phase) {
        Some(custom) => custom.to_vec(),
        None => default_actions(phase, network_action)
            .into_iter()
            .map(String::from)
            .collect(),
    };
    if matches!(phase, Phase::Main | Phase::Final) {
        let kind = UserDataType::of_file(&settings.var_dir.join("user-data"));
        kind.add_actions(phase, &mut list);
    }
    if phase == Phase::Final {
        list.push("bootstrap_complete".to_string());
    }
    list
}

/// Runs one phase; `Ok(())` means every action succeeded (or nothing to do).
pub fn run(settings: Settings, phase: Phase) -> Result<()> {
    let root = Root::new(settings.root.clone());
    let log = Log::new(&root, &format!("tiny-cloud/{}", phase.name()));
    for w in &settings.warnings {
        log.warn(w);
    }
    if root.exists("/etc/tiny-cloud.disabled") {
        log.info("tiny-cloud disabled");
        return Ok(());
    }
    if settings.marker_path().exists() {
        log.info("already bootstrapped");
        return Ok(());
    }
    let cloud = crate::cloud::open(&settings, &root, true)?;
    let started = std::time::Instant::now();
    let list = plan(&settings, phase, cloud.network_action());
    let mut ctx = Ctx {
        settings,
        root,
        log: &log,
        phase,
        cloud,
        action: "",
        config: None,
    };
    for name in &list {
        let Some(action) = actions::find(name) else {
            return Err(Error::msg(format!("{name}: failed: unknown action")));
        };
        if ctx.settings.is_skipped(name) {
            log.info(&format!("{name}: skipped"));
            continue;
        }
        ctx.action = action.name;
        log.info(&format!("{name}: starting"));
        match (action.run)(&mut ctx) {
            Ok(()) => log.info(&format!("{name}: done")),
            Err(e) => {
                log.error(&format!("{name}: failed: {e}"));
                return Err(Error::msg(format!(
                    "phase {} stopped at {name}",
                    phase.name()
                )));
            }
        }
    }
    // One line with the phase's wall time: boot-time budgets are read off the log.
    // Tenths of a millisecond from integers: float formatting costs 10 KB.
    let tenths = started.elapsed().as_micros() / 100;
    log.info(&format!(
        "phase {} finished in {}.{} ms",
        phase.name(),
        tenths / 10,
        tenths % 10
    ));
    Ok(())
}

/// `--bootstrap complete|incomplete`.
pub fn set_bootstrap(settings: &Settings, complete: bool) -> Result<()> {
    let root = Root::new(settings.root.clone());
    let marker = settings.marker_path();
    if complete {
        root.write(&marker, b"", FileSpec::mode(0o644))?;
    } else {
        root.remove_file(&marker)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("ROOT".into(), "/nonexistent-tiny-cloud-root".into());
        Settings::load(&env).unwrap()
    }

    #[test]
    fn defaults_and_overrides() {
        let s = settings(&[]);
        assert_eq!(
            plan(&s, Phase::Boot, "set_default_interfaces").join(" "),
            "expand_root install_hotplugs set_ephemeral_network set_default_interfaces enable_sshd"
        );
        assert_eq!(plan(&s, Phase::Final, "x").join(" "), "bootstrap_complete");
        assert_eq!(
            plan(&s, Phase::Main, "x").join(" "),
            "missing_userdata create_default_user set_hostname set_ssh_keys"
        );
        let s = settings(&[
            ("INIT_ACTIONS_MAIN", "set_hostname"),
            ("INIT_ACTIONS_FINAL", ""),
        ]);
        assert_eq!(
            plan(&s, Phase::Main, "x").join(" "),
            "missing_userdata set_hostname"
        );
        assert_eq!(plan(&s, Phase::Final, "x").join(" "), "bootstrap_complete");
    }
}
