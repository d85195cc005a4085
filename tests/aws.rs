//! AWS end to end: a whole first boot against a mock IMDSv2, every action's
//! files, the IMDS client, and the failure modes of the metadata service.
#![cfg(feature = "aws")]

mod support;

use std::time::{Duration, Instant};
use support::mock_imds::{Fault, Flavor, MockImds};
use support::{FakeRoot, Fakes, Tc, first_boot_ok};

const SCRIPT: &[u8] = b"#!/bin/sh\necho hello from user-data\necho on-stderr >&2\n";

fn setup(name: &str, userdata: Option<&[u8]>) -> (FakeRoot, Fakes, MockImds) {
    let root = FakeRoot::alpine(name);
    root.aws_dmi();
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::Aws);
    imds.aws_instance(userdata);
    (root, fakes, imds)
}

fn line_count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn full_first_boot() {
    let (root, fakes, imds) = setup("aws-boot", Some(SCRIPT));
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    for action in [
        "expand_root",
        "install_hotplugs",
        "set_ephemeral_network",
        "set_default_interfaces",
        "enable_sshd",
        "save_userdata",
        "create_default_user",
        "set_hostname",
        "set_ssh_keys",
        "run_userdata",
        "bootstrap_complete",
    ] {
        assert!(
            log.contains(&format!("{action}: starting")),
            "{action}\n{log}"
        );
        assert!(log.contains(&format!("{action}: done")), "{action}\n{log}");
    }
    assert!(!log.contains("missing_userdata"), "{log}");

    // boot: disk, network, sshd
    let calls = fakes.calls();
    let pos = |c: &str| {
        calls
            .iter()
            .position(|l| l == c)
            .unwrap_or_else(|| panic!("no '{c}' in {calls:?}"))
    };
    assert!(pos("sfdisk -q --no-reread -N 2 /dev/vda") < pos("partx -u /dev/vda"));
    assert!(pos("partx -u /dev/vda") < pos("resize2fs /dev/vda2"));
    assert!(calls.contains(&"  stdin: , +".to_string()), "{calls:?}");
    assert!(
        calls.contains(&"ip link set dev eth0 up".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        root.read("etc/network/interfaces"),
        "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0\n\tuse dhcp\n"
    );
    assert_eq!(
        root.link("etc/runlevels/default/sshd").as_deref(),
        Some("/etc/init.d/sshd")
    );

    // early: user-data saved 0600
    assert_eq!(
        std::fs::read(root.path("var/lib/cloud/user-data")).unwrap(),
        SCRIPT
    );
    assert_eq!(root.mode("var/lib/cloud/user-data") & 0o077, 0);

    // main: the user
    let passwd = root.read("etc/passwd");
    assert!(
        passwd.contains("alpine:x:1000:1000::/home/alpine:/bin/sh\n"),
        "{passwd}"
    );
    let group = root.read("etc/group");
    assert!(
        group.contains("alpine:x:1000:\n") && group.contains("wheel:x:10:root,alpine\n"),
        "{group}"
    );
    let shadow = root.read("etc/shadow");
    assert!(
        shadow.lines().any(|l| l.starts_with("alpine:*:")),
        "{shadow}"
    );
    assert_eq!(root.mode("etc/shadow"), 0o640, "shadow keeps its mode");
    assert_eq!(root.owner("etc/shadow"), (0, 42), "shadow keeps its owner");
    assert_eq!(root.mode("home/alpine"), 0o755);
    assert_eq!(root.owner("home/alpine"), (1000, 1000));
    assert_eq!(root.read("home/alpine/.profile"), "export PS1='$ '\n");
    assert_eq!(root.owner("home/alpine/.profile"), (1000, 1000));
    assert_eq!(root.read("etc/doas.d/wheel.conf"), "permit nopass :wheel\n");
    assert!(!root.exists("etc/sudoers.d/wheel"));

    // main: hostname
    assert_eq!(root.read("etc/hostname"), "ip-172-31-1-2\n");
    let hosts = root.read("etc/hosts");
    assert!(hosts.starts_with("127.0.0.1\tlocalhost"), "{hosts}");
    assert_eq!(line_count(&hosts, "127.0.1.1"), 1);
    assert!(
        hosts.contains("127.0.1.1\tip-172-31-1-2.ec2.internal ip-172-31-1-2\n"),
        "{hosts}"
    );

    // main: keys
    assert_eq!(
        root.read("home/alpine/.ssh/authorized_keys"),
        "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n"
    );
    assert_eq!(root.mode("home/alpine/.ssh"), 0o700);
    assert_eq!(root.mode("home/alpine/.ssh/authorized_keys"), 0o600);
    assert_eq!(root.owner("home/alpine/.ssh"), (1000, 1000));
    assert_eq!(root.owner("home/alpine/.ssh/authorized_keys"), (1000, 1000));

    // final: the script ran, log and exit code kept, marker written
    let ulog = root.read("var/log/user-data.log");
    assert!(
        ulog.contains("hello from user-data\n") && ulog.contains("on-stderr\n"),
        "{ulog}"
    );
    assert_eq!(root.mode("var/log/user-data.log"), 0o600);
    assert_eq!(root.read("var/log/user-data.exit").trim(), "0");
    assert!(root.exists("var/lib/cloud/.bootstrap-complete"));
    assert_eq!(root.read("var/lib/cloud/.autodetect"), "aws\n");

    // IMDSv2: every GET carried a token, one token per process.
    assert_eq!(imds.rejected(), 0);
    let puts = imds.token_puts();
    assert!(
        (1..=3).contains(&puts),
        "one token per phase that queries IMDS, got {puts}"
    );

    // The files stay valid for shadow-utils' checkers, where they exist (the
    // fake root lacks the shells and homes of the system users: not our lines).
    for tool in ["pwck", "grpck"] {
        if let Ok(out) = std::process::Command::new(tool)
            .args(["-r", "-R"])
            .arg(&root.dir)
            .output()
        {
            let text = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            for line in text.lines() {
                let harmless = line.ends_with("does not exist") || line.contains("no changes");
                assert!(harmless, "{tool}: {line}\n{text}");
            }
        }
    }

    // Later boots are no-ops.
    let before = root.snapshot();
    for phase in ["boot", "early", "main", "final"] {
        Tc::against(&root, &fakes, &imds)
            .run(&[phase])
            .ok()
            .has("already bootstrapped");
    }
    assert_eq!(root.snapshot(), before);
}

#[test]
fn rerun_after_incomplete_converges() {
    let (root, fakes, imds) = setup("aws-rerun", Some(b"#!/bin/sh\ntrue\n"));
    root.mkdir("etc/sudoers.d");
    let t = Tc::against(&root, &fakes, &imds);
    first_boot_ok(&t);
    t.run(&["--bootstrap", "incomplete"]).ok();
    let log = first_boot_ok(&t);
    assert!(log.contains("create_default_user: already exists"), "{log}");
    assert!(
        log.contains("set_default_interfaces: already set up"),
        "{log}"
    );
    assert_eq!(line_count(&root.read("etc/passwd"), "alpine:"), 1);
    assert_eq!(line_count(&root.read("etc/shadow"), "alpine:"), 1);
    assert_eq!(
        line_count(&root.read("etc/group"), "alpine"),
        2,
        "own group + wheel member"
    );
    assert!(root.read("etc/group").contains("wheel:x:10:root,alpine\n"));
    assert_eq!(line_count(&root.read("etc/hosts"), "127.0.1.1"), 1);
    assert_eq!(
        root.read("home/alpine/.ssh/authorized_keys")
            .lines()
            .count(),
        2
    );
    assert_eq!(
        root.read("etc/sudoers.d/wheel"),
        "%wheel ALL=(ALL) NOPASSWD: ALL\n"
    );
    assert_eq!(root.mode("etc/sudoers.d/wheel"), 0o440);
}

#[test]
fn existing_keys_are_kept_and_new_ones_added_once() {
    let (root, fakes, imds) = setup("aws-keys", None);
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["main"]).ok();
    std::fs::write(
        root.path("home/alpine/.ssh/authorized_keys"),
        "ssh-rsa AAAAmine me\nssh-ed25519 AAAAbob bob@example\n",
    )
    .unwrap();
    t.run(&["main"]).ok();
    assert_eq!(
        root.read("home/alpine/.ssh/authorized_keys"),
        "ssh-rsa AAAAmine me\nssh-ed25519 AAAAbob bob@example\nssh-ed25519 AAAAalice alice@example\n"
    );
}

#[test]
fn invalid_hostname_fails_and_writes_nothing() {
    for bad in [
        "bad_name.example",
        "-lead",
        "a..b",
        "x y",
        "evil\n127.0.0.1 bank",
    ] {
        let (root, fakes, imds) = setup("aws-badhost", None);
        imds.set("meta-data/hostname", bad);
        let r = Tc::against(&root, &fakes, &imds).run(&["main"]);
        r.failed()
            .has("set_hostname: failed")
            .lacks("set_ssh_keys: starting");
        assert!(!root.exists("etc/hostname"), "{bad}");
        assert!(!root.read("etc/hosts").contains("127.0.1.1"), "{bad}");
        let r = Tc::against(&root, &fakes, &imds).run(&["final"]);
        r.ok();
        assert!(root.exists("var/lib/cloud/.bootstrap-complete"));
    }
}

#[test]
fn empty_hostname_and_no_keys_are_fine() {
    let (root, fakes, imds) = setup("aws-empty", None);
    imds.set("meta-data/hostname", "");
    imds.remove("meta-data/public-keys/");
    let r = Tc::against(&root, &fakes, &imds).run(&["main"]);
    r.ok()
        .has("set_hostname: no hostname set")
        .has("set_ssh_keys: no ssh key found")
        .has("missing_userdata: starting");
    assert!(!root.exists("etc/hostname"));
    assert!(!root.exists("home/alpine/.ssh"));
    // An empty value still ends its line.
    let r = Tc::against(&root, &fakes, &imds).imds(&["@hostname", "+s", "@hostname"]);
    assert_eq!(r.ok().stdout, "\n \n");
}

#[test]
fn symlinked_ssh_dir_or_keys_file_is_refused() {
    let (root, fakes, imds) = setup("aws-symlink", None);
    let t = Tc::against(&root, &fakes, &imds).env("INIT_ACTIONS_MAIN", "create_default_user");
    t.run(&["main"]).ok();
    let target = support::scratch("elsewhere");
    std::os::unix::fs::symlink(&target, root.path("home/alpine/.ssh")).unwrap();
    let r = Tc::against(&root, &fakes, &imds).run(&["main"]);
    r.failed().has("set_ssh_keys: failed").has("symlink");
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        0,
        "nothing written through the link"
    );

    std::fs::remove_file(root.path("home/alpine/.ssh")).unwrap();
    root.mkdir("home/alpine/.ssh");
    std::os::unix::fs::symlink(
        target.join("victim"),
        root.path("home/alpine/.ssh/authorized_keys"),
    )
    .unwrap();
    Tc::against(&root, &fakes, &imds)
        .run(&["main"])
        .failed()
        .has("symlink");
    assert!(!target.join("victim").exists());
}

#[test]
fn missing_user_fails_set_ssh_keys() {
    let (root, fakes, imds) = setup("aws-nouser", None);
    let r = Tc::against(&root, &fakes, &imds)
        .env("INIT_ACTIONS_MAIN", "set_ssh_keys")
        .run(&["main"]);
    r.failed()
        .has("set_ssh_keys: failed: user alpine does not exist");
}

#[test]
fn imds_down_fails_within_the_deadline() {
    let (root, fakes, imds) = setup("aws-down", None);
    drop(imds);
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Tc::new(&root)
        .fakes(&fakes)
        .env("IMDS_ENDPOINT", format!("127.0.0.1:{port}"))
        .env("IMDS_DEADLINE", "1");
    let start = Instant::now();
    let r = t.run(&["early"]);
    let took = start.elapsed();
    r.failed()
        .has("save_userdata: failed")
        .has("not reachable within 1 s");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(!root.exists("var/lib/cloud/user-data"));
}

#[test]
fn hanging_imds_fails_within_the_deadline() {
    let (root, fakes, imds) = setup("aws-hang", None);
    imds.fault(Fault::Hang);
    let start = Instant::now();
    let r = Tc::against(&root, &fakes, &imds)
        .env("IMDS_DEADLINE", "1")
        .run(&["early"]);
    r.failed().has("save_userdata: failed");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn server_errors_are_retried() {
    let (root, fakes, imds) = setup("aws-500", Some(b"#!/bin/sh\ntrue\n"));
    imds.fault(Fault::FailFirst(3));
    Tc::against(&root, &fakes, &imds)
        .env("IMDS_DEADLINE", "10")
        .run(&["early"])
        .ok()
        .has("save_userdata: done");
    assert_eq!(
        std::fs::read(root.path("var/lib/cloud/user-data")).unwrap(),
        b"#!/bin/sh\ntrue\n"
    );
}

#[test]
fn garbage_and_huge_answers_are_clear_errors() {
    for fault in [Fault::Garbage, Fault::Huge] {
        let (root, fakes, imds) = setup("aws-garbage", None);
        imds.fault(fault.clone());
        let r = Tc::against(&root, &fakes, &imds).run(&["early"]);
        r.failed().has("save_userdata: failed");
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(!root.exists("var/lib/cloud/user-data"));
    }
}

#[test]
fn imdsv1_fallback_only_when_there_is_no_token_endpoint() {
    let root = FakeRoot::alpine("aws-v1");
    root.aws_dmi();
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::AwsV1);
    imds.aws_instance(Some(b"#!/bin/sh\ntrue\n"));
    Tc::against(&root, &fakes, &imds).run(&["early"]).ok();
    assert!(root.exists("var/lib/cloud/user-data"));
    let requests = imds.requests();
    assert_eq!(
        requests.iter().filter(|r| r.starts_with("PUT")).count(),
        1,
        "{requests:?}"
    );
}

#[test]
fn failing_script_fails_final_and_records_the_exit_code() {
    let (root, fakes, imds) = setup(
        "aws-script-fail",
        Some(b"#!/bin/sh\necho partial\nexit 3\n"),
    );
    let t = Tc::against(&root, &fakes, &imds);
    for phase in ["boot", "early", "main"] {
        t.run(&[phase]).ok();
    }
    let r = t.run(&["final"]);
    r.failed()
        .has("run_userdata: failed")
        .lacks("bootstrap_complete: starting");
    assert_eq!(
        r.stdout, "partial\n",
        "script output also goes to our stdout"
    );
    assert_eq!(root.read("var/log/user-data.exit").trim(), "3");
    assert!(!root.exists("var/lib/cloud/.bootstrap-complete"));
}

#[test]
fn unknown_and_missing_userdata() {
    let (root, fakes, imds) = setup("aws-unknown", Some(b"just some text\n"));
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["early"]).ok();
    t.run(&["main"])
        .ok()
        .has("unknown_userdata: starting")
        .has("unknown_userdata: done");
    t.run(&["final"]).ok().lacks("run_userdata");

    // A later fetch without user-data removes the stale file.
    imds.remove("user-data");
    t.run(&["--bootstrap", "incomplete"]).ok();
    t.run(&["early"]).ok();
    assert!(!root.exists("var/lib/cloud/user-data"));
    t.run(&["main"]).ok().has("missing_userdata: done");
}

#[test]
fn crash_between_user_database_files_is_recovered() {
    // The state a crash after writing group and shadow (but before passwd) leaves.
    let (root, fakes, imds) = setup("aws-crash", None);
    let group = root.read("etc/group") + "alpine:x:1000:\n";
    root.write("etc/group", group);
    let shadow = root.read("etc/shadow") + "alpine:*:20000:0:99999:7:::\n";
    root.write("etc/shadow", shadow);
    Tc::against(&root, &fakes, &imds).run(&["main"]).ok();
    assert_eq!(line_count(&root.read("etc/shadow"), "alpine:"), 1);
    assert_eq!(line_count(&root.read("etc/group"), "alpine:x:"), 1);
    assert!(root.read("etc/passwd").contains("alpine:x:1000:1000:"));
}

#[test]
fn killed_mid_write_leaves_valid_files() {
    // Kill the process at many points of a run; the database must always
    // parse, with every file either the old or the new version.
    let (root, fakes, imds) = setup("aws-kill", None);
    let old_passwd = root.read("etc/passwd");
    for delay_us in [0u64, 200, 500, 1000, 2000, 4000, 8000] {
        let mut child = Tc::against(&root, &fakes, &imds)
            .command(&["main"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(delay_us));
        let _ = child.kill();
        let _ = child.wait();
        let passwd = root.read("etc/passwd");
        assert!(
            passwd == old_passwd || passwd.starts_with(&old_passwd),
            "{passwd}"
        );
        for f in ["etc/passwd", "etc/group", "etc/shadow"] {
            for line in root.read(f).lines() {
                assert!(line.split(':').count() >= 4, "{f}: torn line '{line}'");
            }
        }
    }
    Tc::against(&root, &fakes, &imds).run(&["main"]).ok();
    assert_eq!(line_count(&root.read("etc/passwd"), "alpine:"), 1);
    let leftovers: Vec<_> = std::fs::read_dir(root.path("etc"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tiny-cloud-"))
        .collect();
    // A killed run may leave its temp file; it is never mistaken for the real one.
    for e in leftovers {
        assert!(e.file_name().to_string_lossy().starts_with('.'));
    }
}

#[test]
fn imds_client_aliases_and_flags() {
    let (root, fakes, imds) = setup("aws-imds", Some(b"#!/bin/sh\necho hi\n"));
    let t = Tc::against(&root, &fakes, &imds);
    assert_eq!(
        t.imds(&["@hostname"]).ok().stdout,
        "ip-172-31-1-2.ec2.internal\n"
    );
    assert_eq!(
        t.imds(&["@local-hostname"]).stdout,
        "ip-172-31-1-2.ec2.internal\n"
    );
    assert_eq!(
        t.imds(&["@ssh-keys"]).stdout,
        "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n"
    );
    assert_eq!(t.imds(&["@userdata"]).stdout, "#!/bin/sh\necho hi\n");
    assert_eq!(
        t.imds(&["meta-data/instance-id"]).stdout,
        "i-0123456789abcdef0\n"
    );
    assert_eq!(
        t.imds(&["meta-data/instance-id", "+s", "@hostname", "+t", "+n"])
            .stdout,
        "i-0123456789abcdef0\n ip-172-31-1-2.ec2.internal\n\t\n"
    );
    let r = t.imds(&["meta-data/nope", "@hostname"]);
    r.failed();
    assert!(
        r.stderr.contains("meta-data/nope") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    let r = t.imds(&["-e", "meta-data/nope", "@hostname"]);
    r.ok();
    assert_eq!(r.stdout, "ip-172-31-1-2.ec2.internal\n");
    assert!(r.stderr.contains("meta-data/nope"));
    let r = t.imds(&["-e", "-E", "meta-data/nope"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(
        t.imds(&["@nics"]).stdout,
        "02:00:00:00:00:01/\n02:00:00:00:00:02/\n"
    );
    assert_eq!(
        t.imds(&["@nic:eth0,@ipv4,@mac"]).stdout,
        "172.31.1.2\n02:00:00:00:00:01\n"
    );
    t.imds(&["@nic:eth9,@ipv4"]).failed();
    let help = t.imds(&["-h"]);
    help.ok();
    assert!(help.stdout.starts_with("usage: imds"));
    // imds reads the cache the first phase wrote, and never writes it.
    assert!(!root.exists("var/lib/cloud/.autodetect"));
}

#[test]
fn ipv6_endpoint() {
    let Some(imds) = MockImds::start_on("[::1]:0", Flavor::Aws) else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    imds.aws_instance(None);
    let root = FakeRoot::alpine("aws-v6");
    root.aws_dmi();
    let r = Tc::new(&root)
        .env("IMDS_ENDPOINT", format!("[::1]:{}", imds.addr.port()))
        .imds(&["@hostname"]);
    assert_eq!(r.ok().stdout, "ip-172-31-1-2.ec2.internal\n");
}
