//! The command line, settings and the phase runner, through the real binary.

mod support;

use support::{FakeRoot, Fakes, Tc};

#[test]
fn help_usage_and_version() {
    let root = FakeRoot::empty("cli");
    let tc = Tc::new(&root);
    let help = tc.run(&["--help"]);
    help.ok();
    assert!(help.stdout.contains("Usage"), "{}", help.stdout);
    assert_eq!(tc.run(&["-h"]).code, 0);

    for bad in [
        &[][..],
        &["--frobnicate"],
        &["sideways"],
        &["main", "early"],
    ] {
        let r = tc.run(bad);
        r.failed();
        assert!(r.stdout.is_empty(), "{bad:?}: usage must go to stderr");
        assert!(r.stderr.contains("Usage"), "{bad:?}: {}", r.stderr);
    }

    let v = tc.run(&["--version"]);
    v.ok();
    let mut want = vec![];
    for (feature, on) in [
        ("aws", cfg!(feature = "aws")),
        ("azure", cfg!(feature = "azure")),
        ("gcp", cfg!(feature = "gcp")),
        ("oci", cfg!(feature = "oci")),
        ("nocloud", cfg!(feature = "nocloud")),
    ] {
        if on {
            want.push(feature);
        }
    }
    let line = v.stdout.trim_end();
    assert!(line.starts_with("tiny-cloud "), "{line}");
    let clouds = line
        .split("(clouds: ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    let mut got: Vec<&str> = clouds.split(' ').collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(v.stdout.lines().count(), 1);
}

#[test]
fn bootstrap_marker() {
    let root = FakeRoot::alpine("marker");
    let tc = Tc::new(&root);
    assert_eq!(tc.run(&["--bootstrap", "status"]).stdout, "incomplete\n");
    tc.run(&["--bootstrap", "complete"])
        .ok()
        .has("bootstrap marked complete");
    assert!(root.exists("var/lib/cloud/.bootstrap-complete"));
    assert_eq!(tc.run(&["-b", "status"]).stdout, "complete\n");
    tc.run(&["main"]).ok().has("already bootstrapped");
    tc.run(&["-b", "incomplete"])
        .ok()
        .has("bootstrap marked incomplete");
    assert!(!root.exists("var/lib/cloud/.bootstrap-complete"));
    tc.run(&["-b", "sideways"]).failed();

    // TINY_CLOUD_VAR is used as given, not under ROOT.
    let var = support::scratch("var");
    let tc = Tc::new(&root).env("TINY_CLOUD_VAR", var.to_string_lossy());
    tc.run(&["-b", "complete"]).ok();
    assert!(var.join(".bootstrap-complete").exists());
}

#[test]
fn enable_and_disable_runlevels() {
    let root = FakeRoot::alpine("runlevels");
    root.mkdir("etc/runlevels/sysinit");
    std::os::unix::fs::symlink(
        "/etc/init.d/tiny-cloud-old",
        root.path("etc/runlevels/sysinit/tiny-cloud-old"),
    )
    .unwrap();
    let tc = Tc::new(&root);
    tc.run(&["--enable"]).ok();
    assert_eq!(
        root.link("etc/runlevels/boot/tiny-cloud-boot").as_deref(),
        Some("/etc/init.d/tiny-cloud-boot")
    );
    for s in ["early", "main", "final"] {
        let link = root.link(&format!("etc/runlevels/default/tiny-cloud-{s}"));
        assert_eq!(link, Some(format!("/etc/init.d/tiny-cloud-{s}")));
    }
    assert!(!root.exists("etc/runlevels/sysinit/tiny-cloud-old"));
    tc.run(&["-E"]).ok();
    tc.run(&["-D"]).ok();
    for level in ["boot", "default", "sysinit"] {
        let left: Vec<_> = std::fs::read_dir(root.path(&format!("etc/runlevels/{level}")))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tiny-cloud"))
            .collect();
        assert!(left.is_empty(), "{level}: {left:?}");
    }
}

#[test]
fn invalid_settings_are_one_line_errors_and_change_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        ("IMDS_DEADLINE", "soon", "IMDS_DEADLINE='soon'"),
        ("IMDS_TOKEN_TTL", "-1", "IMDS_TOKEN_TTL='-1'"),
        (
            "TINY_CLOUD_LINK_WAIT_MAX",
            "1.5",
            "TINY_CLOUD_LINK_WAIT_MAX='1.5'",
        ),
        ("CLOUD", "mars", "CLOUD='mars'"),
        ("CLOUD_USER", "Root:0", "CLOUD_USER='Root:0'"),
        ("IMDS_ENDPOINT", "[::1", "IMDS_ENDPOINT='[::1'"),
        (
            "INIT_ACTIONS_MAIN",
            "set_hostname fly",
            "INIT_ACTIONS_MAIN='set_hostname fly'",
        ),
    ];
    for (key, value, expect) in cases {
        // From the config file…
        let root = FakeRoot::alpine("badconf");
        root.write(
            "etc/tiny-cloud.conf",
            format!("# test\n{key}=\"{value}\"\n"),
        );
        let before = root.snapshot();
        let r = Tc::new(&root).unset(key).run(&["boot"]);
        r.failed();
        assert!(r.stderr.contains(expect), "{key}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{key}: one line: {}", r.stderr);
        assert_eq!(root.snapshot(), before, "{key}: nothing may change");
        // …and from the environment, which overrides a good file value.
        let root = FakeRoot::alpine("badenv");
        root.write("etc/tiny-cloud.conf", format!("{key}=ok\n"));
        Tc::new(&root)
            .env(key, *value)
            .run(&["main"])
            .failed()
            .has(expect);
    }
    let root = FakeRoot::alpine("syntax");
    root.write("etc/tiny-cloud.conf", "CLOUD=aws\nCLOUD_USER='alpine\n");
    let r = Tc::new(&root).run(&["main"]);
    r.failed()
        .has("tiny-cloud.conf:2: CLOUD_USER: unterminated single quote");
}

#[test]
fn disabled_file_stops_everything() {
    let root = FakeRoot::alpine("disabled");
    root.write("etc/tiny-cloud.disabled", "");
    let before = root.snapshot();
    for phase in ["boot", "early", "main", "final"] {
        Tc::new(&root).run(&[phase]).ok().has("tiny-cloud disabled");
    }
    assert_eq!(root.snapshot(), before);
}

#[test]
fn skip_and_replace_action_lists() {
    let root = FakeRoot::alpine("lists");
    root.aws_dmi();
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    root.write("etc/tiny-cloud.conf", "SKIP_INIT_ACTIONS='expand_root install_hotplugs'\nINIT_ACTIONS_BOOT=\"expand_root enable_sshd\"\n");
    let r = Tc::new(&root).fakes(&fakes).run(&["boot"]);
    r.ok()
        .has("expand_root: skipped")
        .has("enable_sshd: starting")
        .has("enable_sshd: done");
    r.lacks("set_default_interfaces").lacks("install_hotplugs");
    // Autodetection may look for a NoCloud volume; no action may run anything.
    let calls: Vec<String> = fakes
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("findfs ") && !c.starts_with("blkid "))
        .collect();
    assert!(calls.is_empty(), "{calls:?}");
    assert!(root.link("etc/runlevels/default/sshd").is_some());
}

#[test]
fn progress_goes_to_syslog_when_the_socket_exists() {
    let root = FakeRoot::alpine("syslog");
    root.aws_dmi();
    root.mkdir("dev");
    let sock = std::os::unix::net::UnixDatagram::bind(root.path("dev/log")).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    Tc::new(&root)
        .env("INIT_ACTIONS_BOOT", "enable_sshd")
        .run(&["boot"])
        .ok();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..2 {
        let n = sock.recv(&mut buf).unwrap();
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        got[0].starts_with("<190>tiny-cloud/boot: enable_sshd: starting"),
        "{got:?}"
    );
    assert!(
        got.iter().any(|m| m.contains("enable_sshd: done")
            || m.contains("already enabled")
            || m.contains("added")),
        "{got:?}"
    );
}

#[test]
fn autodetect_prints_the_cloud() {
    let root = FakeRoot::alpine("autodetect");
    let tc = Tc::new(&root);
    let r = tc.run(&["autodetect"]);
    r.ok();
    let version = tc.run(&["--version"]).stdout;
    let n = version
        .split("(clouds: ")
        .nth(1)
        .unwrap_or("")
        .split(' ')
        .count();
    if n > 1 {
        assert_eq!(r.stdout, "unknown\n");
    }
    if cfg!(feature = "aws") {
        root.aws_dmi();
        assert_eq!(tc.run(&["autodetect"]).stdout, "aws\n");
        assert_eq!(
            Tc::new(&root)
                .env("CLOUD", "aws")
                .run(&["autodetect"])
                .stdout,
            "aws\n"
        );
    }
}
