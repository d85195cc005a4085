//! `#alpine-config` / `#cloud-config` end to end: user-data served by the
//! AWS mock, the real binary, a fake root and recording fakes.
#![cfg(feature = "aws")]

mod support;

use support::mock_imds::{Flavor, MockImds};
use support::{FakeRoot, Fakes, Tc, first_boot_ok};

fn setup(name: &str, userdata: &str) -> (FakeRoot, Fakes, MockImds) {
    let root = FakeRoot::alpine(name);
    root.aws_dmi();
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::Aws);
    imds.aws_instance(Some(userdata.as_bytes()));
    (root, fakes, imds)
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no '{call}' in {calls:?}"))
}

const FULL: &str = r#"#alpine-config
groups:
  - admins: [root, bob]
  - plain
users:
  - default
  - name: bob
    gecos: Bob Builder
    shell: /bin/ash
    groups: [plain, newgroup]
    lock_passwd: true
    ssh_authorized_keys:
      - ssh-ed25519 AAAAbobkey bob@laptop
    doas:
      - permit nopass bob
    sudo:
      - ALL=(ALL) NOPASSWD:ALL
      - ALL=(root) /sbin/reboot
  - name: carol
    groups: plain, wheel
    sudo: ALL=(ALL) ALL
    primary_group: staff
    no_create_home: true
  - name: svc
    system: yes
ssh_authorized_keys:
  - ssh-rsa AAAAtoplevel top@example
  - ssh-ed25519 AAAAalice alice@example
bootcmd:
  - echo boot-string; echo boot-stderr >&2
  - [sh, -c, 'echo "argv $0 $1"', one, "two words"]
runcmd:
  - [printf, "%s\n", "$HOME literal"]
  - touch "$ROOT/ran-shell"
write_files:
  - path: /etc/motd
    content: |
      welcome
  - path: /etc/b64
    encoding: b64
    content: aGVsbG8K
    permissions: '0600'
    owner: bob:plain
  - path: /etc/gz
    encoding: gz+b64
    content: H4sIAAAAAAAAA8tIzcnJ5wIAIDA6NgYAAAA=
    permissions: 0755
  - path: /etc/bin
    content: !!binary AAEC/w==
    permissions: 640
  - path: /etc/octal
    content: x
    permissions: 0o600
  - path: /deep/new/dir/file
    content: deep
  - path: /etc/append
    content: "line2\n"
    append: true
  - path: /etc/later
    content: late
    defer: true
ntp:
  enabled: true
apk:
  cache: /var/cache/apk
  repositories:
    - base_url: https://dl-cdn.alpinelinux.org/alpine
      repos: [main, community]
    - base_url: https://dl-cdn.alpinelinux.org/alpine/
      version: edge
      repos: [testing]
    - base_url: https://example.com/custom
      version: .
      repos: [extra]
package_update: true
package_upgrade: yes
packages:
  - curl
  - [vim, 9.1-r0]
hostname: ignored-by-us
"#;

#[test]
fn full_alpine_config_and_rerun_converges() {
    let (root, fakes, imds) = setup("ud-full", FULL);
    root.mkdir("etc/sudoers.d");
    root.write("etc/append", "line1\n");
    let t = Tc::against(&root, &fakes, &imds);
    let runs = t.first_boot();
    let mut log = String::new();
    let mut out = String::new();
    for r in &runs {
        r.ok();
        log.push_str(&r.stderr);
        out.push_str(&r.stdout);
    }
    for action in [
        "userdata_user",
        "userdata_groups",
        "userdata_users",
        "userdata_bootcmd",
        "userdata_write_files",
        "userdata_ntp",
        "userdata_apk_cache",
        "userdata_apk_repositories",
        "userdata_package_update",
        "userdata_package_upgrade",
        "userdata_packages",
        "ssh_authorized_keys",
        "userdata_runcmd",
        "userdata_autoinstall",
    ] {
        assert!(log.contains(&format!("{action}: done")), "{action}\n{log}");
    }
    assert!(
        log.contains("'hostname' is not supported; ignored"),
        "{log}"
    );
    assert_eq!(
        count(&log, "'hostname' is not supported"),
        1,
        "said once, in main"
    );

    // users and groups
    let passwd = root.read("etc/passwd");
    let group = root.read("etc/group");
    let shadow = root.read("etc/shadow");
    assert!(
        passwd.contains(":Bob Builder:/home/bob:/bin/ash\n"),
        "{passwd}"
    );
    for user in ["alpine", "bob", "carol", "svc"] {
        assert_eq!(count(&passwd, &format!("{user}:x:")), 1, "{passwd}");
        let line = shadow
            .lines()
            .find(|l| l.starts_with(&format!("{user}:")))
            .unwrap();
        assert!(line.starts_with(&format!("{user}:*:")), "{line}");
    }
    let svc: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("svc:"))
        .unwrap()
        .split(':')
        .collect();
    assert!(svc[2].parse::<u32>().unwrap() < 1000, "system uid: {svc:?}");
    assert!(!root.exists("home/svc"));
    assert!(!root.exists("home/carol"), "no_create_home");
    assert!(root.exists("home/bob/.profile"));
    assert_eq!(root.owner("home/bob").0, svc_uid(&passwd, "bob"));
    let staff_gid = gid(&group, "staff");
    let carol: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("carol:"))
        .unwrap()
        .split(':')
        .collect();
    assert_eq!(carol[3].parse::<u32>().unwrap(), staff_gid);
    assert!(group.contains("admins:x:"), "{group}");
    assert_eq!(members(&group, "admins"), ["root", "bob"]);
    assert_eq!(members(&group, "plain"), ["bob", "carol"]);
    assert_eq!(members(&group, "newgroup"), ["bob"]);
    assert_eq!(members(&group, "wheel"), ["root", "alpine", "carol"]);
    assert!(log.contains("created group newgroup for bob"), "{log}");

    // keys, doas, sudo
    assert_eq!(
        root.read("home/bob/.ssh/authorized_keys"),
        "ssh-ed25519 AAAAbobkey bob@laptop\n"
    );
    assert_eq!(root.mode("home/bob/.ssh/authorized_keys"), 0o600);
    let keys = root.read("home/alpine/.ssh/authorized_keys");
    assert_eq!(keys.lines().count(), 3, "{keys}");
    assert_eq!(count(&keys, "AAAAalice"), 1);
    assert!(keys.contains("ssh-rsa AAAAtoplevel top@example\n"));
    assert_eq!(root.read("etc/doas.d/bob.conf"), "permit nopass bob\n");
    assert_eq!(
        root.read("etc/sudoers.d/bob"),
        "bob ALL=(ALL) NOPASSWD:ALL\nbob ALL=(root) /sbin/reboot\n"
    );
    assert_eq!(root.mode("etc/sudoers.d/bob"), 0o440);
    assert_eq!(root.read("etc/sudoers.d/carol"), "carol ALL=(ALL) ALL\n");

    // commands: output on stdout, in order, strings via sh, lists as argv
    assert!(
        out.contains("boot-string\nboot-stderr\nargv one two words\n"),
        "{out}"
    );
    assert!(root.exists("ran-shell"));
    assert!(out.contains("$HOME literal\n"), "argv gets no shell: {out}");

    // files
    assert_eq!(root.read("etc/motd"), "welcome\n");
    assert_eq!(root.mode("etc/motd"), 0o644);
    assert_eq!(root.read("etc/b64"), "hello\n");
    assert_eq!(root.mode("etc/b64"), 0o600);
    assert_eq!(
        root.owner("etc/b64"),
        (svc_uid(&passwd, "bob"), gid(&group, "plain"))
    );
    assert_eq!(root.read("etc/gz"), "hello\n");
    assert_eq!(root.mode("etc/gz"), 0o755);
    assert_eq!(std::fs::read(root.path("etc/bin")).unwrap(), [0, 1, 2, 255]);
    assert_eq!(root.mode("etc/bin"), 0o640);
    assert_eq!(root.mode("etc/octal"), 0o600);
    assert_eq!(root.read("deep/new/dir/file"), "deep");
    assert_eq!(root.read("etc/append"), "line1\nline2\n");
    assert_eq!(root.read("etc/later"), "late");
    let main_log = &runs[2].stderr;
    assert!(!main_log.contains("etc/later"), "deferred to final");
    assert!(
        runs[3].stderr.contains("wrote /etc/later"),
        "{}",
        runs[3].stderr
    );

    // ntp, apk
    assert_eq!(
        root.link("etc/runlevels/default/chronyd").as_deref(),
        Some("/etc/init.d/chronyd")
    );
    assert!(root.path("var/cache/apk").is_dir());
    assert_eq!(
        root.link("etc/apk/cache").as_deref(),
        Some("../../var/cache/apk")
    );
    assert_eq!(
        root.read("etc/apk/repositories"),
        "https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n\
         https://dl-cdn.alpinelinux.org/alpine/v3.20/community\n\
         https://dl-cdn.alpinelinux.org/alpine/edge/testing\n\
         https://example.com/custom/extra\n"
    );
    let calls = fakes.calls();
    let order = [
        "apk add chrony",
        "rc-service chronyd start",
        "apk update",
        "apk upgrade",
        "apk add curl vim=9.1-r0",
    ];
    for pair in order.windows(2) {
        assert!(
            position(&calls, pair[0]) < position(&calls, pair[1]),
            "{calls:?}"
        );
    }
    assert!(!calls.iter().any(|c| c.starts_with("setup-apkrepos")));
    assert!(root.exists("var/lib/cloud/.bootstrap-complete"));

    // A second boot after "incomplete": nothing doubles.
    t.run(&["--bootstrap", "incomplete"]).ok();
    let before_files: Vec<_> = [
        "etc/passwd",
        "etc/group",
        "etc/shadow",
        "etc/doas.d/bob.conf",
        "etc/sudoers.d/bob",
        "etc/sudoers.d/carol",
        "etc/apk/repositories",
        "home/alpine/.ssh/authorized_keys",
        "home/bob/.ssh/authorized_keys",
        "etc/append",
    ]
    .iter()
    .map(|f| (f.to_string(), root.read(f)))
    .collect();
    let log2 = first_boot_ok(&t);
    assert!(log2.contains("bob already exists"), "{log2}");
    for (f, text) in before_files {
        assert_eq!(root.read(&f), text, "{f} changed on the second run");
    }
    assert!(log2.contains("/etc/append: already appended"), "{log2}");
}

fn svc_uid(passwd: &str, user: &str) -> u32 {
    passwd
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .and_then(|l| l.split(':').nth(2))
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("no {user} in {passwd}"))
}

fn gid(group: &str, name: &str) -> u32 {
    svc_uid(group, name)
}

fn members(group: &str, name: &str) -> Vec<String> {
    group
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .and_then(|l| l.split(':').nth(3))
        .map(|m| {
            m.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cloud_config_user_renames_the_default_user() {
    let ud = "#cloud-config\nuser: ops\nssh_authorized_keys: [ssh-ed25519 AAAAextra x]\n";
    let (root, fakes, imds) = setup("ud-user", ud);
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    assert!(log.contains("userdata_user: default user is ops"), "{log}");
    assert!(
        root.read("etc/passwd")
            .contains("\nops:x:1000:1000::/home/ops:/bin/sh\n")
    );
    assert!(!root.read("etc/passwd").contains("alpine"));
    assert_eq!(members(&root.read("etc/group"), "wheel"), ["root", "ops"]);
    let keys = root.read("home/ops/.ssh/authorized_keys");
    assert_eq!(
        keys.lines().count(),
        3,
        "metadata and user-data keys: {keys}"
    );
    // No apk key and no repositories file: setup-apkrepos does it.
    assert!(fakes.calls().contains(&"setup-apkrepos -1 -c".to_string()));
}

#[test]
fn first_users_entry_becomes_the_default_user_with_its_settings() {
    let ud = "#cloud-config\nusers:\n  - name: eve\n    gecos: Eve\n    shell: /bin/ash\n    groups: [audio]\n";
    let (root, fakes, imds) = setup("ud-users0", ud);
    root.write("etc/apk/repositories", "https://mirror/v3.20/main\n");
    first_boot_ok(&Tc::against(&root, &fakes, &imds));
    let passwd = root.read("etc/passwd");
    assert!(
        passwd.contains("\neve:x:1000:1000:Eve:/home/eve:/bin/ash\n"),
        "{passwd}"
    );
    let group = root.read("etc/group");
    assert_eq!(members(&group, "wheel"), ["root", "eve"]);
    assert_eq!(members(&group, "audio"), ["eve"]);
    assert_eq!(
        root.read("home/eve/.ssh/authorized_keys").lines().count(),
        2
    );
    // The repositories file exists and apk: is absent: left alone.
    assert!(
        !fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("setup-apkrepos"))
    );
    assert_eq!(
        root.read("etc/apk/repositories"),
        "https://mirror/v3.20/main\n"
    );
}

#[test]
fn user_mapping_without_name_keeps_the_default() {
    let (root, fakes, imds) = setup("ud-noname", "#alpine-config\nuser:\n  gecos: x\n");
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    assert!(
        log.contains("user: a mapping without 'name'; default user kept (line 3)"),
        "{log}"
    );
    assert!(root.read("etc/passwd").contains("\nalpine:x:"));
}

#[test]
fn an_existing_user_gets_its_groups_and_keys() {
    let ud = "#alpine-config\nusers:\n  - default\n  - name: dave\n    groups: [wheel, video]\n    shell: /bin/zsh\n    ssh_authorized_keys: [ssh-ed25519 AAAAdave d]\n";
    let (root, fakes, imds) = setup("ud-existing", ud);
    let passwd = root.read("etc/passwd") + "dave:x:1500:1500:Dave:/home/dave:/bin/sh\n";
    root.write("etc/passwd", passwd);
    let group = root.read("etc/group") + "dave:x:1500:\n";
    root.write("etc/group", group);
    root.mkdir("home/dave");
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    assert!(
        log.contains("dave already exists, added to wheel video"),
        "{log}"
    );
    let passwd = root.read("etc/passwd");
    assert!(
        passwd.contains("dave:x:1500:1500:Dave:/home/dave:/bin/sh\n"),
        "not re-created"
    );
    assert_eq!(count(&passwd, "dave:"), 1);
    let group = root.read("etc/group");
    assert_eq!(members(&group, "wheel"), ["root", "alpine", "dave"]);
    assert_eq!(members(&group, "video"), ["dave"]);
    assert_eq!(
        root.read("home/dave/.ssh/authorized_keys"),
        "ssh-ed25519 AAAAdave d\n"
    );
    assert_eq!(root.owner("home/dave/.ssh/authorized_keys"), (1500, 1500));
}

/// Runs boot and early, then main must fail at the first user-data action
/// with `expect` and change nothing.
fn main_fails_cleanly(name: &str, ud: &str, expect: &[&str]) {
    let (root, fakes, imds) = setup(name, ud);
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["boot"]).ok();
    t.run(&["early"]).ok();
    let calls = fakes.calls().len();
    let before = root.snapshot();
    let r = t.run(&["main"]);
    r.failed()
        .has("userdata_user: failed")
        .lacks("create_default_user: starting");
    for e in expect {
        r.has(e);
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(root.snapshot(), before, "main changed files");
    assert_eq!(fakes.calls().len(), calls, "main ran programs");
    let r = t.run(&["final"]);
    r.failed().has("userdata_write_files: failed");
    assert!(!root.exists("var/lib/cloud/.bootstrap-complete"));
}

#[test]
fn bad_yaml_names_the_line() {
    main_fails_cleanly(
        "ud-badyaml",
        "#cloud-config\npackages:\n  - curl\nruncmd: [ls\nusers: []\n",
        &["YAML syntax error", "(line "],
    );
    let r = {
        let (root, fakes, imds) = setup("ud-badyaml2", "#cloud-config\na: 1\n  b: 2\n");
        let t = Tc::against(&root, &fakes, &imds);
        t.run(&["early"]).ok();
        t.run(&["main"])
    };
    r.failed().has("(line 3)");
}

#[test]
fn wrong_types_name_the_key_path() {
    main_fails_cleanly(
        "ud-types",
        "#cloud-config\nusers:\n  - default\n  - name: a\n  - name: b\n    groups: {x: 1}\npackage_update: perhaps\n",
        &[
            "users[2].groups: expected a list or a comma-separated string (line 6)",
            "package_update: expected true or false (line 7)",
            "and 1 more problem",
        ],
    );
    main_fails_cleanly(
        "ud-badname",
        "#cloud-config\nusers:\n  - name: 'x;rm -rf /'\n",
        &["users[0].name: invalid user name 'x;rm -rf /'"],
    );
    main_fails_cleanly(
        "ud-badpkg",
        "#cloud-config\npackages: [--allow-untrusted, curl]\n",
        &["packages[0]: invalid package name '--allow-untrusted' (line 2)"],
    );
}

#[test]
fn write_files_paths_must_be_absolute_and_stay_inside() {
    main_fails_cleanly(
        "ud-relpath",
        "#alpine-config\nwrite_files:\n  - path: etc/motd\n    content: x\n",
        &["write_files[0].path: must be an absolute path: 'etc/motd' (line 3)"],
    );
    main_fails_cleanly(
        "ud-dotdot",
        "#alpine-config\nwrite_files:\n  - path: /etc/../../../tmp/escape\n    content: x\n",
        &["write_files[0].path: must not contain '..'"],
    );
}

#[test]
fn write_files_through_a_symlink_out_of_root_is_refused() {
    let ud = "#alpine-config\nwrite_files:\n  - path: /etc/outside/file\n    content: x\n";
    let (root, fakes, imds) = setup("ud-symlink", ud);
    let elsewhere = support::scratch("ud-elsewhere");
    std::os::unix::fs::symlink(&elsewhere, root.path("etc/outside")).unwrap();
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["early"]).ok();
    t.run(&["main"])
        .failed()
        .has("userdata_write_files: failed")
        .has("leads outside ROOT");
    assert!(!elsewhere.join("file").exists());
}

#[test]
fn unknown_owner_is_a_warning_and_the_file_root_owned() {
    let ud = "#alpine-config\nwrite_files:\n  - path: /etc/owned\n    content: x\n    owner: nobody2:nogroup\n";
    let (root, fakes, imds) = setup("ud-owner", ud);
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    assert!(
        log.contains("/etc/owned: owner nobody2:nogroup is not in /etc/passwd"),
        "{log}"
    );
    assert_eq!(root.owner("etc/owned"), (0, 0));
    assert_eq!(root.read("etc/owned"), "x");
}

#[test]
fn failing_bootcmd_stops_main_and_failing_runcmd_stops_final() {
    let ud = "#cloud-config\nbootcmd:\n  - 'true'\n  - exit 7\n  - touch \"$ROOT/never\"\n";
    let (root, fakes, imds) = setup("ud-bootfail", ud);
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["early"]).ok();
    t.run(&["main"])
        .failed()
        .has("userdata_bootcmd: failed: bootcmd[1] exited with status 7")
        .lacks("userdata_write_files: starting");
    assert!(!root.exists("never"));

    let ud = "#cloud-config\nruncmd:\n  - [false]\n";
    let (root, fakes, imds) = setup("ud-runfail", ud);
    let t = Tc::against(&root, &fakes, &imds);
    let runs = t.first_boot();
    runs[3]
        .failed()
        .has("userdata_runcmd: failed: runcmd[0] exited with status 1");
    assert!(!root.exists("var/lib/cloud/.bootstrap-complete"));
}

#[test]
fn ntp_clients() {
    for (client, package, service) in [
        ("busybox", None, "ntpd"),
        ("chrony", Some("chrony"), "chronyd"),
        ("openntpd", Some("openntpd"), "openntpd"),
    ] {
        let ud = format!("#alpine-config\nntp:\n  enabled: yes\n  ntp_client: {client}\n");
        let (root, fakes, imds) = setup("ud-ntp", &ud);
        first_boot_ok(&Tc::against(&root, &fakes, &imds));
        let calls = fakes.calls();
        let apk_adds: Vec<_> = calls.iter().filter(|c| c.starts_with("apk add")).collect();
        match package {
            Some(p) => assert_eq!(apk_adds, [&format!("apk add {p}")]),
            None => assert!(apk_adds.is_empty(), "{calls:?}"),
        }
        assert!(
            calls.contains(&format!("rc-service {service} start")),
            "{calls:?}"
        );
        assert_eq!(
            root.link(&format!("etc/runlevels/default/{service}")),
            Some(format!("/etc/init.d/{service}"))
        );
    }
    let (root, fakes, imds) = setup("ud-ntp-off", "#alpine-config\nntp:\n  ntp_client: chrony\n");
    first_boot_ok(&Tc::against(&root, &fakes, &imds));
    assert!(!fakes.calls().iter().any(|c| c.starts_with("rc-service")));
}

#[test]
fn repositories_follow_os_release() {
    let ud = "#alpine-config\napk:\n  repositories:\n    - base_url: https://m/alpine\n      repos: [main]\n";
    for (version_id, dir) in [
        ("3.19.1", "v3.19"),
        ("\"3.21.0_alpha20240807\"", "edge"),
        ("edge", "edge"),
    ] {
        let (root, fakes, imds) = setup("ud-osrel", ud);
        root.write(
            "etc/os-release",
            format!("ID=alpine\nVERSION_ID={version_id}\n"),
        );
        first_boot_ok(&Tc::against(&root, &fakes, &imds));
        assert_eq!(
            root.read("etc/apk/repositories"),
            format!("https://m/alpine/{dir}/main\n")
        );
        assert!(
            !fakes
                .calls()
                .iter()
                .any(|c| c.starts_with("setup-apkrepos"))
        );
    }
}

/// Three disks: vda holds the system, vdc is largest and empty, vdb empty.
fn disks(root: &FakeRoot) {
    for (disk, size) in [
        ("vda", "2000000"),
        ("vdb", "1000000"),
        ("vdc", "4000000"),
        ("loop0", "9999999"),
    ] {
        root.write(&format!("sys/class/block/{disk}/size"), format!("{size}\n"));
        if !disk.starts_with("loop") {
            root.mkdir(&format!("sys/class/block/{disk}/device"));
        }
    }
}

#[test]
fn autoinstall_picks_the_largest_empty_disk() {
    let (root, fakes, imds) = setup("ud-autoinstall", "#alpine-config\nautoinstall: true\n");
    disks(&root);
    // vdc looks used too, so vdb (smaller, empty) is the one.
    fakes.script(
        "blkid",
        "case \"$1\" in /dev/vda) echo '/dev/vda: PTTYPE=\"dos\"';; /dev/vdc) echo '/dev/vdc: TYPE=\"ext4\"';; *) exit 2;; esac",
    );
    let env_log = fakes.dir.join("erase.env");
    fakes.script(
        "setup-disk",
        &format!("echo \"$ERASE_DISKS\" > '{}'", env_log.display()),
    );
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["--enable"]).ok();
    assert!(
        root.link("etc/runlevels/default/tiny-cloud-final")
            .is_some()
    );
    first_boot_ok(&t);
    let calls = fakes.calls();
    let order = [
        "lbu include /root/.ssh /home",
        "setup-disk -m sys /dev/vdb",
        "reboot ",
    ];
    for pair in order.windows(2) {
        assert!(
            position(&calls, pair[0]) < position(&calls, pair[1]),
            "{calls:?}"
        );
    }
    assert!(!calls.iter().any(|c| c.contains("/dev/loop0")), "{calls:?}");
    assert_eq!(std::fs::read_to_string(&env_log).unwrap(), "/dev/vdb\n");
    for l in [
        "boot/tiny-cloud-boot",
        "default/tiny-cloud-main",
        "default/tiny-cloud-final",
    ] {
        assert!(
            !root.exists(&format!("etc/runlevels/{l}")),
            "{l} still there"
        );
    }
    assert!(root.exists("etc/runlevels/default/sshd"));
}

#[test]
fn autoinstall_without_an_empty_disk_installs_nothing() {
    let (root, fakes, imds) = setup("ud-autoinstall-none", "#alpine-config\nautoinstall: on\n");
    disks(&root);
    fakes.script("blkid", "echo \"$1: TYPE=\\\"ext4\\\"\"");
    let t = Tc::against(&root, &fakes, &imds);
    let runs = t.first_boot();
    runs.last()
        .unwrap()
        .failed()
        .has("userdata_autoinstall: failed: no disk to install on");
    let calls = fakes.calls();
    for prog in ["lbu", "setup-disk", "reboot"] {
        assert!(!calls.iter().any(|c| c.starts_with(prog)), "{calls:?}");
    }
}

#[test]
fn skipped_actions_and_explicit_lists() {
    let ud = "#cloud-config\npackages: [curl]\nruncmd: [[touch, /tmp/x]]\n";
    let (root, fakes, imds) = setup("ud-skip", ud);
    let t = Tc::against(&root, &fakes, &imds)
        .env("SKIP_INIT_ACTIONS", "userdata_packages userdata_runcmd");
    let log = first_boot_ok(&t);
    assert!(log.contains("userdata_packages: skipped"), "{log}");
    assert!(log.contains("userdata_runcmd: skipped"), "{log}");
    assert!(!fakes.calls().iter().any(|c| c.starts_with("apk add")));
}
