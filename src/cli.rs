//! The command line (contract §1): phases, `--bootstrap`, `--enable` /
//! `--disable`, `autodetect`, `--version`, and dispatch to `imds`.

use crate::error::{Error, Result};
use crate::phase;
use crate::root::Root;
use crate::settings::{Phase, Settings};
use clap::{Arg, ArgAction, ArgGroup, Command};
use std::ffi::OsString;

const PHASES: [&str; 5] = ["boot", "early", "main", "final", "autodetect"];

fn command() -> Command {
    Command::new("tiny-cloud")
        .about("First-boot bootstrapper for Alpine cloud instances")
        .disable_version_flag(true)
        .arg(
            Arg::new("phase")
                .value_name("PHASE")
                .help("Run a phase (boot, early, main, final), or print the detected cloud (autodetect)")
                .value_parser(PHASES),
        )
        .arg(
            Arg::new("bootstrap")
                .short('b')
                .long("bootstrap")
                .value_name("STATE")
                .help("Mark the bootstrap complete or incomplete, or print its status")
                .value_parser(["complete", "incomplete", "status"]),
        )
        .arg(
            Arg::new("enable")
                .short('E')
                .long("enable")
                .action(ArgAction::SetTrue)
                .help("Add the tiny-cloud services to their runlevels"),
        )
        .arg(
            Arg::new("disable")
                .short('D')
                .long("disable")
                .action(ArgAction::SetTrue)
                .help("Remove the tiny-cloud services from all runlevels"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version and the compiled-in clouds"),
        )
        .group(
            ArgGroup::new("command")
                .args(["phase", "bootstrap", "enable", "disable", "version"])
                .required(true),
        )
}

pub fn version_line() -> String {
    format!(
        "tiny-cloud {} (clouds: {})",
        env!("CARGO_PKG_VERSION"),
        crate::cloud::compiled_names().join(" ")
    )
}

/// Entry point for every name the binary is called by; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let argv0 = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if argv0 == "imds" {
        return crate::imds_cli::main(&args[1..]);
    }
    if args.get(1).is_some_and(|a| a == "imds") {
        return crate::imds_cli::main(&args[2..]);
    }
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            // --help goes to stdout with 0, usage errors to stderr with 2.
            let _ = e.print();
            if e.use_stderr() && !e.to_string().contains("Usage:") {
                eprintln!("\n{}", command().render_usage());
            }
            return e.exit_code();
        }
    };
    if matches.get_flag("version") {
        println!("{}", version_line());
        return 0;
    }
    match run(&matches) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tiny-cloud: {e}");
            1
        }
    }
}

fn run(matches: &clap::ArgMatches) -> Result<()> {
    let settings = Settings::from_env()?;
    if let Some(state) = matches.get_one::<String>("bootstrap") {
        return bootstrap(&settings, state);
    }
    if matches.get_flag("enable") || matches.get_flag("disable") {
        return runlevels(&settings, matches.get_flag("enable"));
    }
    let Some(name) = matches.get_one::<String>("phase") else {
        return Err(Error::msg("nothing to do"));
    };
    if name == "autodetect" {
        let root = Root::new(settings.root.clone());
        println!("{}", crate::cloud::effective_name(&settings, &root));
        return Ok(());
    }
    let phase =
        Phase::from_name(name).ok_or_else(|| Error::msg(format!("unknown phase {name}")))?;
    phase::run(settings, phase)
}

fn bootstrap(settings: &Settings, state: &str) -> Result<()> {
    match state {
        "status" => {
            let done = settings.marker_path().exists();
            println!("{}", if done { "complete" } else { "incomplete" });
        }
        "complete" => {
            phase::set_bootstrap(settings, true)?;
            eprintln!("bootstrap marked complete");
        }
        _ => {
            phase::set_bootstrap(settings, false)?;
            eprintln!("bootstrap marked incomplete");
        }
    }
    Ok(())
}

/// Where each service goes: `boot` in the boot runlevel, the rest in default.
const SERVICES: [(&str, &str); 4] = [
    ("tiny-cloud-boot", "boot"),
    ("tiny-cloud-early", "default"),
    ("tiny-cloud-main", "default"),
    ("tiny-cloud-final", "default"),
];

fn runlevels(settings: &Settings, enable: bool) -> Result<()> {
    let root = Root::new(settings.root.clone());
    let runlevels = root.path("/etc/runlevels");
    if let Ok(levels) = std::fs::read_dir(&runlevels) {
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
    }
    if enable {
        for (service, level) in SERVICES {
            let link = runlevels.join(level).join(service);
            root.symlink(&format!("/etc/init.d/{service}"), &link)?;
        }
    }
    Ok(())
}
