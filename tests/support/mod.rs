//! Test support: a fake Alpine root, recording fakes for external commands,
//! and a way to run the real binary against them.
#![allow(dead_code)]

pub mod fixture;
pub mod mock_imds;
pub mod seed_http;

pub use fixture::*;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tiny-cloud")
}

/// The outcome of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn failed(&self) -> &Self {
        assert_ne!(
            self.code, 0,
            "expected failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn has(&self, line: &str) -> &Self {
        assert!(
            self.stderr.lines().any(|l| l.contains(line)),
            "stderr lacks '{line}':\n{}",
            self.stderr
        );
        self
    }

    pub fn lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stderr.contains(text),
            "stderr has '{text}':\n{}",
            self.stderr
        );
        self
    }
}

/// A prepared invocation: the fake root, fakes on PATH, and settings.
pub struct Tc<'a> {
    pub root: &'a FakeRoot,
    pub fakes: Option<&'a Fakes>,
    pub env: Vec<(String, String)>,
    pub unset: Vec<String>,
}

/// Without explicit fakes, PATH still starts with stand-ins that fail loudly,
/// so no test can ever reach the host's real `sfdisk` or `reboot`.
fn guard_path() -> String {
    static GUARD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = GUARD.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("tiny-cloud-test-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("guard dir");
        for name in DEFAULT_FAKES {
            let p = dir.join(name);
            std::fs::write(
                &p,
                format!("#!/bin/sh\necho 'unexpected call: {name}' >&2\nexit 99\n"),
            )
            .expect("guard");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        dir
    });
    format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", dir.display())
}

impl<'a> Tc<'a> {
    pub fn new(root: &'a FakeRoot) -> Tc<'a> {
        Tc {
            root,
            fakes: None,
            env: Vec::new(),
            unset: Vec::new(),
        }
    }

    /// The usual setup of a cloud test: fakes on PATH, IMDS_ENDPOINT at the mock.
    pub fn against(root: &'a FakeRoot, fakes: &'a Fakes, imds: &mock_imds::MockImds) -> Tc<'a> {
        Tc::new(root)
            .fakes(fakes)
            .env("IMDS_ENDPOINT", imds.endpoint())
    }

    pub fn fakes(mut self, fakes: &'a Fakes) -> Self {
        self.fakes = Some(fakes);
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Leaves a variable the harness would otherwise set unset.
    pub fn unset(mut self, key: &str) -> Self {
        self.unset.push(key.to_string());
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env_clear()
            .env("ROOT", &self.root.dir)
            .env("IMDS_DEADLINE", "2")
            .env("TINY_CLOUD_LINK_WAIT_MAX", "0")
            .stdin(Stdio::null());
        cmd.env(
            "PATH",
            self.fakes.map(|f| f.path_env()).unwrap_or_else(guard_path),
        );
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in &self.unset {
            cmd.env_remove(k);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out: Output = self.command(args).output().expect("run tiny-cloud");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `imds ARGS…` through the multi-call dispatch.
    pub fn imds(&self, args: &[&str]) -> Run {
        let mut all = vec!["imds"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// All four phases in order; stops at the first failing one.
    pub fn first_boot(&self) -> Vec<Run> {
        let mut runs = Vec::new();
        for phase in ["boot", "early", "main", "final"] {
            let r = self.run(&[phase]);
            let failed = r.code != 0;
            runs.push(r);
            if failed {
                break;
            }
        }
        runs
    }
}

/// Runs the four phases and asserts each succeeded; returns all stderr.
pub fn first_boot_ok(tc: &Tc) -> String {
    let runs = tc.first_boot();
    let mut all = String::new();
    for r in &runs {
        r.ok();
        all.push_str(&r.stderr);
    }
    all
}

/// What a successful first boot leaves behind, the same on every cloud.
pub struct Booted<'a> {
    pub cloud: &'a str,
    pub fqdn: &'a str,
    pub keys: &'a str,
    /// The user-data script that ran, and a line its output must contain.
    pub script: &'a [u8],
    pub output: &'a str,
}

/// Checks the log of all four phases and the files a first boot writes.
pub fn assert_booted(root: &FakeRoot, log: &str, want: &Booted) {
    for action in [
        "save_userdata",
        "create_default_user",
        "set_hostname",
        "set_ssh_keys",
        "run_userdata",
        "bootstrap_complete",
    ] {
        assert!(log.contains(&format!("{action}: done")), "{action}\n{log}");
    }
    let short = want.fqdn.split('.').next().unwrap_or(want.fqdn);
    assert_eq!(
        root.read("var/lib/cloud/.autodetect"),
        format!("{}\n", want.cloud)
    );
    assert_eq!(
        std::fs::read(root.path("var/lib/cloud/user-data")).unwrap(),
        want.script
    );
    assert_eq!(root.read("etc/hostname"), format!("{short}\n"));
    let hosts = root.read("etc/hosts");
    assert!(
        hosts.contains(&format!("127.0.1.1\t{} {short}\n", want.fqdn)),
        "{hosts}"
    );
    assert_eq!(hosts.matches("127.0.1.1").count(), 1, "{hosts}");
    assert_eq!(root.read("home/alpine/.ssh/authorized_keys"), want.keys);
    assert!(root.read("var/log/user-data.log").contains(want.output));
    assert!(root.exists("var/lib/cloud/.bootstrap-complete"));
}
