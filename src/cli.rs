//! The command line (contract §1): phases, `--bootstrap`, `--enable` /
//! `--disable`, `autodetect`, `--version`, and dispatch to `imds`.

use crate::error::{Error, Result};
use crate::phase;
use crate::root::Root;
use crate::settings::{Phase, Settings};
use std::ffi::OsString;

const USAGE: &str = "\
Usage: tiny-cloud <boot|early|main|final|autodetect>
       tiny-cloud <-b|--bootstrap> <complete|incomplete|status>
       tiny-cloud <-E|--enable | -D|--disable | --version | -h|--help>
       tiny-cloud imds ARGS...   (the metadata client; also run as `imds`)

First-boot bootstrapper for Alpine cloud instances.

Commands:
  boot, early, main, final    run one phase of the first boot
  autodetect                  print the cloud a phase would use

Options:
  -b, --bootstrap STATE       mark the bootstrap complete or incomplete, or print its status
  -E, --enable                add the tiny-cloud services to their runlevels
  -D, --disable               remove the tiny-cloud services from all runlevels
      --version               print the version and the compiled-in clouds
  -h, --help                  print this help
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Version,
    Phase(Phase),
    Autodetect,
    Bootstrap(String),
    Runlevels { enable: bool },
}

/// Parses the arguments after argv[0]. Hand-written rather than clap: the
/// grammar is five words and three flags, and clap was the largest single
/// item in the binary (~120 KiB of a 700 KiB budget).
fn parse(args: &[String]) -> std::result::Result<Command, String> {
    let mut found: Option<Command> = None;
    let mut set = |cmd: Command| match found {
        Some(_) => Err("give only one command".to_string()),
        None => {
            found = Some(cmd);
            Ok(())
        }
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--version" => set(Command::Version)?,
            "-E" | "--enable" => set(Command::Runlevels { enable: true })?,
            "-D" | "--disable" => set(Command::Runlevels { enable: false })?,
            "-b" | "--bootstrap" => {
                let state = it
                    .next()
                    .ok_or("--bootstrap needs complete, incomplete or status")?;
                set(bootstrap_state(state)?)?
            }
            a if a.starts_with("--bootstrap=") => set(bootstrap_state(&a[12..])?)?,
            "autodetect" => set(Command::Autodetect)?,
            a if a.starts_with('-') => return Err(format!("unknown option '{a}'")),
            a => match Phase::from_name(a) {
                Some(phase) => set(Command::Phase(phase))?,
                None => return Err(format!("unknown phase '{a}'")),
            },
        }
    }
    found.ok_or_else(|| "no command given".to_string())
}

fn bootstrap_state(state: &str) -> std::result::Result<Command, String> {
    match state {
        "complete" | "incomplete" | "status" => Ok(Command::Bootstrap(state.to_string())),
        other => Err(format!(
            "invalid bootstrap state '{other}' (want complete, incomplete or status)"
        )),
    }
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
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let command = match parse(&words) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("tiny-cloud: {why}\n\n{USAGE}");
            return 2;
        }
    };
    match run(command) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tiny-cloud: {e}");
            1
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Help => {
            print!("{USAGE}");
            return Ok(());
        }
        Command::Version => {
            println!("{}", version_line());
            return Ok(());
        }
        _ => {}
    }
    let settings = Settings::from_env()?;
    match command {
        Command::Bootstrap(state) => bootstrap(&settings, &state),
        Command::Runlevels { enable } => runlevels(&settings, enable),
        Command::Autodetect => {
            for w in &settings.warnings {
                eprintln!("tiny-cloud: {w}");
            }
            let root = Root::new(settings.root.clone());
            println!("{}", crate::cloud::effective_name(&settings, &root));
            Ok(())
        }
        Command::Phase(phase) => phase::run(settings, phase),
        Command::Help | Command::Version => Err(Error::msg("unreachable command")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> std::result::Result<Command, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn grammar() {
        assert_eq!(p(&["main"]), Ok(Command::Phase(Phase::Main)));
        assert_eq!(
            p(&["-b", "status"]),
            Ok(Command::Bootstrap("status".into()))
        );
        assert_eq!(
            p(&["--bootstrap=complete"]),
            Ok(Command::Bootstrap("complete".into()))
        );
        assert_eq!(p(&["-E"]), Ok(Command::Runlevels { enable: true }));
        assert_eq!(p(&["--disable"]), Ok(Command::Runlevels { enable: false }));
        assert_eq!(p(&["main", "--help"]), Ok(Command::Help));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(p(&["autodetect"]), Ok(Command::Autodetect));
        for bad in [
            &[][..],
            &["-x"],
            &["sideways"],
            &["main", "early"],
            &["-b"],
            &["-b", "maybe"],
            &["-E", "-D"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }
}
