//! NoCloud end to end, through the real binary: every seed source (kernel
//! command line, DMI serial, seed directory, file:// and http:// URLs, a
//! cidata volume through fake mount tools), meta-data shapes, network
//! configuration, the ephemeral DHCP lease, bad YAML, and `imds`.
#![cfg(feature = "nocloud")]

mod support;

use support::seed_http::SeedServer;
use support::{FakeRoot, Fakes, Tc, first_boot_ok};

const SCRIPT: &str = "#!/bin/sh\necho hello from nocloud\n";
const META: &str = "instance-id: iid-local01\nlocal-hostname: seed-host.example.com\npublic-keys:\n  - ssh-ed25519 AAAAalice alice@example\n  - ssh-ed25519 AAAAbob bob@example\n";

fn setup(name: &str) -> (FakeRoot, Fakes) {
    (FakeRoot::alpine(name), Fakes::new(support::DEFAULT_FAKES))
}

fn tc<'a>(root: &'a FakeRoot, fakes: &'a Fakes) -> Tc<'a> {
    Tc::new(root).fakes(fakes)
}

fn cmdline(root: &FakeRoot, ds: &str) {
    root.write(
        "proc/cmdline",
        format!("BOOT_IMAGE=/boot/vmlinuz-virt root=/dev/vda2 {ds} console=ttyS0\n"),
    );
}

/// A seed directory inside the fake root.
fn seed_dir(root: &FakeRoot, dir: &str, meta: &str, user: Option<&str>) {
    root.write(&format!("{dir}/meta-data"), meta);
    if let Some(u) = user {
        root.write(&format!("{dir}/user-data"), u);
    }
}

/// Fakes for a seed volume: `findfs` knows the label, `blkid` reports the
/// type, `mount` copies `files` into the directory it is given last.
fn volume_fakes(fakes: &Fakes, label: &str, fstype: Option<&str>, files: &std::path::Path) {
    fakes.script(
        "findfs",
        &format!("[ \"$1\" = LABEL={label} ] && echo /dev/sr0 && exit 0\nexit 1"),
    );
    let type_field = fstype.map(|t| format!(" TYPE=\"{t}\"")).unwrap_or_default();
    fakes.script(
        "blkid",
        &format!("echo '/dev/sr0: LABEL=\"{label}\" UUID=\"2024-01-01\"{type_field}'"),
    );
    fakes.script(
        "mount",
        &format!(
            "for last; do :; done\ncp '{}'/* \"$last\"/",
            files.display()
        ),
    );
}

fn volume_files(name: &str, meta: &str, user: Option<&str>) -> std::path::PathBuf {
    let dir = support::scratch(name);
    std::fs::write(dir.join("meta-data"), meta).unwrap();
    if let Some(u) = user {
        std::fs::write(dir.join("user-data"), u).unwrap();
    }
    dir
}

fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

#[test]
fn full_first_boot_from_a_seed_directory() {
    let (root, fakes) = setup("nc-dir");
    cmdline(&root, "ds=nocloud;s=/var/seed/");
    seed_dir(&root, "var/seed", META, Some(SCRIPT));
    let log = first_boot_ok(&tc(&root, &fakes));
    for action in [
        "set_ephemeral_network",
        "set_network_interfaces",
        "enable_sshd",
        "save_userdata",
        "create_default_user",
        "set_hostname",
        "set_ssh_keys",
        "run_userdata",
        "bootstrap_complete",
    ] {
        assert!(log.contains(&format!("{action}: done")), "{action}\n{log}");
    }
    assert!(log.contains("set_ephemeral_network: not needed"), "{log}");
    assert!(!log.contains("set_default_interfaces"), "{log}");
    assert!(!fakes.calls().iter().any(|c| c.starts_with("udhcpc")));
    assert_eq!(
        root.read("etc/network/interfaces"),
        "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0\n\tuse dhcp\n"
    );
    assert_eq!(root.read("etc/hostname"), "seed-host\n");
    assert!(
        root.read("etc/hosts")
            .contains("127.0.1.1\tseed-host.example.com seed-host\n")
    );
    assert_eq!(
        root.read("home/alpine/.ssh/authorized_keys"),
        "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n"
    );
    assert!(
        root.read("var/log/user-data.log")
            .contains("hello from nocloud")
    );
    assert_eq!(root.read("var/log/user-data.exit").trim(), "0");
    assert_eq!(root.read("var/lib/cloud/.autodetect"), "nocloud\n");
    // The seed's files are kept, private.
    assert_eq!(root.read("var/lib/cloud/meta-data"), META);
    assert_eq!(root.read("var/lib/cloud/user-data"), SCRIPT);
    assert_eq!(root.mode("var/lib/cloud/meta-data"), 0o600);
    assert!(!root.exists("var/lib/cloud/vendor-data"));
    assert!(root.exists("var/lib/cloud/.bootstrap-complete"));
}

#[test]
fn keys_alone_on_the_command_line() {
    let (root, fakes) = setup("nc-cmdline");
    cmdline(&root, "ds=nocloud;h=cmd-host;i=iid-cmd");
    let t = tc(&root, &fakes);
    let log = first_boot_ok(&t);
    assert!(log.contains("missing_userdata"), "{log}");
    assert!(log.contains("set_ssh_keys: no ssh key found"), "{log}");
    assert_eq!(root.read("etc/hostname"), "cmd-host\n");
    assert_eq!(t.imds(&["meta-data/instance-id"]).ok().stdout, "iid-cmd\n");
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, "cmd-host\n");
    // No seed files: the keys are all there is, and there is no file to print.
    t.imds(&["meta-data"]).failed();
    t.imds(&["user-data"]).failed();
}

#[test]
fn dmi_serial_seed_and_precedence() {
    let (root, fakes) = setup("nc-dmi");
    // meta-data says one name, the command line another, DMI a third: as in
    // cloud-init, keys beat meta-data and DMI keys beat command-line keys.
    seed_dir(
        &root,
        "seed",
        "hostname: meta-host\ninstance-id: iid-meta\n",
        None,
    );
    cmdline(&root, "ds=nocloud;h=cmd-host;i=iid-cmd");
    root.write(
        "sys/class/dmi/id/product_serial",
        "ds=nocloud;s=file:///seed/;h=dmi-host\n",
    );
    let t = tc(&root, &fakes);
    assert_eq!(t.run(&["autodetect"]).ok().stdout, "nocloud\n");
    first_boot_ok(&t);
    assert_eq!(root.read("etc/hostname"), "dmi-host\n");
    assert_eq!(t.imds(&["instance-id"]).ok().stdout, "iid-cmd\n");
    assert_eq!(t.imds(&["@local-hostname"]).ok().stdout, "dmi-host\n");
}

#[test]
fn hostname_key_wins_over_local_hostname() {
    let (root, fakes) = setup("nc-hostname");
    cmdline(&root, "ds=nocloud;s=/seed");
    seed_dir(
        &root,
        "seed",
        "hostname: full.example.org\nlocal-hostname: short\n",
        None,
    );
    let t = tc(&root, &fakes);
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, "full.example.org\n");
    assert_eq!(t.imds(&["@local-hostname"]).ok().stdout, "short\n");
}

#[test]
fn file_url_seed() {
    let (root, fakes) = setup("nc-file");
    cmdline(&root, "ds=nocloud;s=file:///srv/seed/");
    seed_dir(
        &root,
        "srv/seed",
        "local-hostname: from-file\n",
        Some(SCRIPT),
    );
    root.write("srv/seed/vendor-data", "#cloud-config\n{}\n");
    first_boot_ok(&tc(&root, &fakes));
    assert_eq!(root.read("etc/hostname"), "from-file\n");
    assert_eq!(
        root.read("var/lib/cloud/vendor-data"),
        "#cloud-config\n{}\n"
    );
}

#[test]
fn missing_seed_directory_or_meta_data_is_a_clear_error() {
    let (root, fakes) = setup("nc-nodir");
    cmdline(&root, "ds=nocloud;s=/nowhere/");
    let r = tc(&root, &fakes).run(&["boot"]);
    r.failed()
        .has("set_network_interfaces: failed")
        .has("no such directory");
    root.mkdir("nowhere");
    root.write("nowhere/user-data", SCRIPT);
    let r = tc(&root, &fakes).run(&["boot"]);
    r.failed().has("has no meta-data");
    assert!(!root.exists("etc/network/interfaces"));
}

#[test]
fn http_seed_without_an_address_gets_a_dhcp_lease_first() {
    let (root, fakes) = setup("nc-http");
    let server = SeedServer::start();
    server
        .file("/seed/meta-data", META)
        .file("/seed/user-data", SCRIPT)
        .file("/seed/network-config", "version: 2\n");
    cmdline(&root, &format!("ds=nocloud-net;s={}", server.url("/seed/")));
    let t = tc(&root, &fakes);
    let log = first_boot_ok(&t);
    assert!(
        log.contains("set_ephemeral_network: requesting a DHCP lease on eth0"),
        "{log}"
    );
    let calls = fakes.calls();
    let dhcp = calls
        .iter()
        .position(|c| c == "udhcpc -i eth0 -f -q")
        .unwrap_or_else(|| panic!("{calls:?}"));
    assert!(
        calls.iter().position(|c| c == "ip link set dev eth0 up") < Some(dhcp),
        "{calls:?}"
    );
    assert_eq!(root.read("etc/hostname"), "seed-host\n");
    assert!(
        root.read("var/log/user-data.log")
            .contains("hello from nocloud")
    );
    assert_eq!(root.read("var/lib/cloud/network-config"), "version: 2\n");
    // Fetched once, in boot; the later phases read the kept copies.
    let requests = server.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| *r == "GET /seed/meta-data")
            .count(),
        1,
        "{requests:?}"
    );
    assert!(requests.contains(&"GET /seed/user-data".to_string()));
    assert!(requests.contains(&"GET /seed/vendor-data".to_string()));
}

#[test]
fn http_seed_with_an_address_needs_no_lease_and_survives_5xx() {
    let (root, fakes) = setup("nc-http-up");
    root.write(
        "proc/net/fib_trie",
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     +-- 10.0.2.0/24 2 0 2\n        |-- 10.0.2.15\n           /32 host LOCAL\n",
    );
    let server = SeedServer::start();
    server
        .file("/m/meta-data", "local-hostname: web\n")
        .fail_first(2);
    // No trailing slash: the seed is a directory all the same.
    cmdline(&root, &format!("ds=nocloud;s={}", server.url("/m")));
    let r = tc(&root, &fakes).run(&["boot"]);
    r.ok().has("set_ephemeral_network: not needed");
    assert!(!fakes.calls().iter().any(|c| c.starts_with("udhcpc")));
    assert_eq!(
        root.read("var/lib/cloud/meta-data"),
        "local-hostname: web\n"
    );
    assert!(!root.exists("var/lib/cloud/user-data"));
}

#[test]
fn unreachable_http_seed_fails_within_the_deadline() {
    let (root, fakes) = setup("nc-http-down");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    cmdline(&root, &format!("ds=nocloud;s=http://127.0.0.1:{port}/"));
    let start = std::time::Instant::now();
    let r = tc(&root, &fakes).env("IMDS_DEADLINE", "1").run(&["boot"]);
    r.failed()
        .has("set_network_interfaces: failed")
        .has("not reachable within 1 s");
    assert!(start.elapsed() < std::time::Duration::from_secs(8));
    assert!(!root.exists("etc/network/interfaces"));
}

#[test]
fn https_seed_is_a_clear_error() {
    let (root, fakes) = setup("nc-https");
    cmdline(&root, "ds=nocloud-net;s=https://seed.example/");
    let before = root.snapshot();
    let r = tc(&root, &fakes).env("CLOUD", "nocloud").run(&["boot"]);
    r.failed()
        .has("set_ephemeral_network: failed")
        .has("https seeds need TLS, which this build does not include");
    assert!(!fakes.calls().iter().any(|c| c.starts_with("udhcpc")));
    assert_eq!(root.snapshot(), before);
}

#[test]
fn cidata_volume_is_mounted_read_only_once_and_cleaned_up() {
    let (root, fakes) = setup("nc-volume");
    let files = volume_files("nc-volume-files", META, Some(SCRIPT));
    volume_fakes(&fakes, "cidata", Some("iso9660"), &files);
    let t = tc(&root, &fakes);
    assert_eq!(t.run(&["autodetect"]).ok().stdout, "nocloud\n");
    first_boot_ok(&t);
    assert_eq!(root.read("etc/hostname"), "seed-host\n");
    assert!(
        root.read("var/log/user-data.log")
            .contains("hello from nocloud")
    );
    let calls = fakes.calls();
    let mounts: Vec<&String> = calls.iter().filter(|c| c.starts_with("mount")).collect();
    assert_eq!(mounts.len(), 1, "{calls:?}");
    let dir = mounts[0]
        .strip_prefix("mount -o ro -t iso9660 LABEL=cidata ")
        .unwrap_or_else(|| panic!("{calls:?}"));
    let run_dir = root.path("run/tiny-cloud");
    assert!(dir.starts_with(&*run_dir.to_string_lossy()), "{dir}");
    assert!(
        calls.contains(&format!("umount {dir}")),
        "unmounted: {calls:?}"
    );
    assert!(!std::path::Path::new(dir).exists(), "mount dir removed");
    assert_eq!(std::fs::read_dir(&run_dir).unwrap().count(), 0);
    assert_eq!(root.read("var/lib/cloud/meta-data"), META);
}

#[test]
fn uppercase_label_by_link_and_unknown_type_tries_vfat_then_iso9660() {
    let (root, fakes) = setup("nc-volume-upper");
    let files = volume_files("nc-volume-upper-files", META, None);
    volume_fakes(&fakes, "CIDATA", None, &files);
    // udev's link; findfs is then not needed.
    root.mkdir("dev/disk/by-label");
    std::os::unix::fs::symlink("../../sr0", root.path("dev/disk/by-label/CIDATA")).unwrap();
    fakes.script(
        "mount",
        &format!(
            "[ \"$4\" = vfat ] && {{ echo 'mount: wrong fs type' >&2; exit 32; }}\nfor last; do :; done\ncp '{}'/* \"$last\"/",
            files.display()
        ),
    );
    let t = tc(&root, &fakes).env("CLOUD", "nocloud");
    t.run(&["boot"]).ok();
    let calls = fakes.calls();
    assert_eq!(count(&calls, "findfs"), 0, "{calls:?}");
    assert_eq!(count(&calls, "mount -o ro -t vfat LABEL=CIDATA "), 1);
    assert_eq!(count(&calls, "mount -o ro -t iso9660 LABEL=CIDATA "), 1);
    assert_eq!(count(&calls, "umount "), 1, "only the mount that worked");
    assert_eq!(root.read("var/lib/cloud/meta-data"), META);
    assert_eq!(
        std::fs::read_dir(root.path("run/tiny-cloud"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn failed_mount_is_a_clear_error_and_leaves_nothing() {
    let (root, fakes) = setup("nc-volume-fail");
    let files = volume_files("nc-volume-fail-files", META, None);
    volume_fakes(&fakes, "cidata", Some("vfat"), &files);
    fakes.script("mount", "echo 'mount: permission denied' >&2\nexit 1");
    let r = tc(&root, &fakes).run(&["boot"]);
    r.failed()
        .has("set_network_interfaces: failed")
        .has("mount: permission denied");
    assert_eq!(count(&fakes.calls(), "umount"), 0);
    assert_eq!(
        std::fs::read_dir(root.path("run/tiny-cloud"))
            .unwrap()
            .count(),
        0
    );
    assert!(!root.exists("var/lib/cloud/meta-data"));
}

#[test]
fn volume_of_another_filesystem_type_is_refused() {
    let (root, fakes) = setup("nc-volume-ext4");
    let files = volume_files("nc-volume-ext4-files", META, None);
    volume_fakes(&fakes, "cidata", Some("ext4"), &files);
    let r = tc(&root, &fakes).run(&["boot"]);
    r.failed().has("must be vfat or iso9660");
    assert_eq!(count(&fakes.calls(), "mount"), 0);
}

#[test]
fn symlinks_on_the_volume_are_not_followed() {
    let (root, fakes) = setup("nc-volume-link");
    let files = volume_files("nc-volume-link-files", META, None);
    std::fs::remove_file(files.join("meta-data")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", files.join("meta-data")).unwrap();
    volume_fakes(&fakes, "cidata", Some("vfat"), &files);
    // cp -P keeps the link as a link, as a real volume would show it.
    fakes.script(
        "mount",
        &format!(
            "for last; do :; done\ncp -P '{}'/* \"$last\"/",
            files.display()
        ),
    );
    let r = tc(&root, &fakes).run(&["boot"]);
    r.failed().has("not a regular file");
    assert_eq!(count(&fakes.calls(), "umount"), 1);
    assert!(!root.exists("var/lib/cloud/meta-data"));
}

#[test]
fn every_public_keys_shape() {
    let shapes = [
        ("public-keys: ssh-ed25519 K1 one\n", "ssh-ed25519 K1 one\n"),
        (
            "public-keys: |\n  ssh-ed25519 K2 two\n  ssh-ed25519 K1 one\n",
            "ssh-ed25519 K1 one\nssh-ed25519 K2 two\n",
        ),
        (
            "public-keys:\n  - ssh-ed25519 K1 one\n  - ssh-ed25519 K1 one\n",
            "ssh-ed25519 K1 one\n",
        ),
        (
            "public-keys:\n  - openssh-key: ssh-ed25519 K1 one\n  - openssh-key: ssh-ed25519 K2 two\n",
            "ssh-ed25519 K1 one\nssh-ed25519 K2 two\n",
        ),
        (
            "public-keys:\n  alice: ssh-ed25519 K1 one\n  bob: ssh-ed25519 K2 two\n",
            "ssh-ed25519 K1 one\nssh-ed25519 K2 two\n",
        ),
        (
            "public-keys:\n  alice:\n    - ssh-ed25519 K1 one\n    - ssh-ed25519 K3 three\n  bob: [ssh-ed25519 K2 two]\n",
            "ssh-ed25519 K1 one\nssh-ed25519 K2 two\nssh-ed25519 K3 three\n",
        ),
    ];
    for (i, (meta, want)) in shapes.iter().enumerate() {
        let (root, fakes) = setup(&format!("nc-keys-{i}"));
        cmdline(&root, "ds=nocloud;s=/seed/");
        seed_dir(&root, "seed", meta, None);
        let t = tc(&root, &fakes);
        assert_eq!(t.imds(&["@ssh-keys"]).ok().stdout, *want, "{meta}");
        first_boot_ok(&t);
        let mut installed: Vec<&str> = Vec::new();
        let keys = root.read("home/alpine/.ssh/authorized_keys");
        installed.extend(keys.lines());
        installed.sort();
        assert_eq!(installed.join("\n") + "\n", *want, "{meta}");
    }
}

#[test]
fn static_network_interfaces_and_name_servers() {
    let (root, fakes) = setup("nc-static");
    let interfaces = "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress 192.168.1.10/24\n\tgateway 192.168.1.1\n";
    let meta = format!(
        "local-hostname: static1\nnetwork-interfaces: |\n{}resolv_conf:\n  nameservers: [192.168.1.2, 2001:db8::53]\n",
        interfaces
            .lines()
            .map(|l| if l.is_empty() {
                "\n".to_string()
            } else {
                format!("  {l}\n")
            })
            .collect::<String>()
    );
    cmdline(&root, "ds=nocloud;s=/seed/");
    seed_dir(&root, "seed", &meta, None);
    root.write(
        "etc/resolv.conf",
        "search example\nnameserver 192.168.1.2\n",
    );
    let t = tc(&root, &fakes);
    t.run(&["boot"])
        .ok()
        .has("set_network_interfaces: written from meta-data network-interfaces");
    assert_eq!(root.read("etc/network/interfaces"), interfaces);
    let want = "search example\nnameserver 192.168.1.2\nnameserver 2001:db8::53\n";
    assert_eq!(root.read("etc/resolv.conf"), want);
    assert_eq!(
        t.imds(&["resolv_conf/nameservers"]).ok().stdout,
        "192.168.1.2\n2001:db8::53\n"
    );
    // Running it again adds nothing twice.
    t.run(&["--bootstrap", "incomplete"]).ok();
    t.run(&["boot"]).ok();
    assert_eq!(root.read("etc/resolv.conf"), want);
}

#[test]
fn dhcp_network_leaves_resolv_conf_alone() {
    for (i, interfaces) in [
        Some("auto eth0\niface eth0 inet dhcp\n"),
        None, // the default setup, which uses dhcp
    ]
    .into_iter()
    .enumerate()
    {
        let (root, fakes) = setup(&format!("nc-dhcp-{i}"));
        let mut meta = String::from("resolv_conf:\n  nameservers:\n    - 10.0.0.2\n");
        if let Some(text) = interfaces {
            meta.push_str("network-interfaces: |\n");
            for l in text.lines() {
                meta.push_str(&format!("  {l}\n"));
            }
        }
        cmdline(&root, "ds=nocloud;s=/seed/");
        seed_dir(&root, "seed", &meta, None);
        tc(&root, &fakes).run(&["boot"]).ok();
        assert!(!root.exists("etc/resolv.conf"), "{meta}");
        if let Some(text) = interfaces {
            assert_eq!(root.read("etc/network/interfaces"), text);
        } else {
            assert!(root.read("etc/network/interfaces").contains("use dhcp"));
        }
    }
}

#[test]
fn malformed_meta_data_fails_with_its_line_and_writes_nothing() {
    let (root, fakes) = setup("nc-badyaml");
    cmdline(&root, "ds=nocloud;s=/seed/");
    seed_dir(
        &root,
        "seed",
        "instance-id: iid-1\nlocal-hostname: ok\npublic-keys: [unclosed\nother: 1\n",
        Some(SCRIPT),
    );
    let before = root.snapshot();
    let t = tc(&root, &fakes).env("CLOUD", "nocloud");
    let r = t.run(&["boot"]);
    r.failed()
        .has("set_network_interfaces: failed")
        .has("meta-data from /seed/: invalid YAML at line ");
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("invalid YAML"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("line 3") || line.contains("line 4"), "{line}");
    assert_eq!(root.snapshot(), before);
    // Every other way in reports the same, and changes nothing either.
    t.run(&["early"]).failed().has("invalid YAML");
    let r = t.imds(&["@hostname"]);
    r.failed();
    assert!(r.stderr.contains("invalid YAML at line"), "{}", r.stderr);
    assert_eq!(root.snapshot(), before);
}

#[test]
fn imds_aliases_and_paths() {
    let (root, fakes) = setup("nc-imds");
    cmdline(&root, "ds=nocloud;s=/seed/;i=iid-override");
    seed_dir(
        &root,
        "seed",
        "instance-id: iid-seed\nhostname: h1.example\npublic-keys: [ssh-ed25519 B b, ssh-ed25519 A a, ssh-ed25519 B b]\nplacement: {zone: z1, racks: [r1, r2]}\n",
        Some(SCRIPT),
    );
    let t = tc(&root, &fakes);
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, "h1.example\n");
    assert_eq!(t.imds(&["@local-hostname"]).ok().stdout, "h1.example\n");
    assert_eq!(
        t.imds(&["@ssh-keys"]).ok().stdout,
        "ssh-ed25519 A a\nssh-ed25519 B b\n"
    );
    assert_eq!(t.imds(&["@userdata"]).ok().stdout, SCRIPT);
    assert_eq!(t.imds(&["user-data"]).ok().stdout, SCRIPT);
    assert_eq!(
        t.imds(&["meta-data/instance-id"]).ok().stdout,
        "iid-override\n"
    );
    assert_eq!(t.imds(&["instance-id"]).ok().stdout, "iid-override\n");
    assert_eq!(t.imds(&["placement/zone"]).ok().stdout, "z1\n");
    assert_eq!(t.imds(&["meta-data/placement/racks/1"]).ok().stdout, "r2\n");
    assert_eq!(
        t.imds(&["meta-data/placement"]).ok().stdout,
        "zone\nracks/\n"
    );
    assert!(
        t.imds(&["meta-data"])
            .ok()
            .stdout
            .starts_with("instance-id: iid-seed\n")
    );
    let r = t.imds(&["meta-data/nope", "@hostname"]);
    r.failed();
    assert!(r.stderr.contains("meta-data/nope"), "{}", r.stderr);
    let r = t.imds(&["-e", "vendor-data", "@hostname"]);
    r.ok();
    assert_eq!(r.stdout, "h1.example\n");
    t.imds(&["@nics"]).failed();
    assert!(!root.exists("var/lib/cloud/.autodetect"));
}

#[test]
fn later_phases_reuse_the_copies_and_a_new_boot_rereads() {
    let (root, fakes) = setup("nc-reuse");
    root.write("proc/sys/kernel/random/boot_id", "boot-1\n");
    let files = volume_files("nc-reuse-files", "local-hostname: first\n", None);
    volume_fakes(&fakes, "cidata", Some("vfat"), &files);
    let t = tc(&root, &fakes);
    first_boot_ok(&t);
    assert_eq!(count(&fakes.calls(), "mount"), 1);
    assert_eq!(root.read("etc/hostname"), "first\n");
    // Bootstrapped: imds answers from the copies even in a later boot.
    root.write("proc/sys/kernel/random/boot_id", "boot-2\n");
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, "first\n");
    assert_eq!(count(&fakes.calls(), "mount"), 1);
    // Re-bootstrapping in a new boot reads the (changed) seed again.
    std::fs::write(files.join("meta-data"), "local-hostname: second\n").unwrap();
    t.run(&["--bootstrap", "incomplete"]).ok();
    root.write("proc/sys/kernel/random/boot_id", "boot-3\n");
    first_boot_ok(&t);
    assert_eq!(count(&fakes.calls(), "mount"), 2);
    assert_eq!(root.read("etc/hostname"), "second\n");
    assert_eq!(
        root.read("var/lib/cloud/meta-data"),
        "local-hostname: second\n"
    );
}

#[test]
fn no_seed_at_all_is_a_clear_error() {
    let (root, fakes) = setup("nc-none");
    let r = tc(&root, &fakes).env("CLOUD", "nocloud").run(&["boot"]);
    r.failed().has("no NoCloud seed");
}
