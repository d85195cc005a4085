//! Packaging checks: the installed tree, the init scripts and units, the
//! Alpine subpackage split, and the bookkeeping (APKBUILD cloud list, the
//! empty-main profile, features.md markers) that must track Cargo.toml.
//!
//! They drive the real scripts in packaging/ with the test binary, so a
//! layout change is caught here before it reaches an image.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PHASES: [&str; 4] = ["boot", "early", "main", "final"];
const MAN_PAGES: [&str; 3] = [
    "usr/share/man/man1/imds.1",
    "usr/share/man/man5/tiny-cloud.conf.5",
    "usr/share/man/man8/tiny-cloud.8",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn packaging(rel: &str) -> PathBuf {
    repo().join("packaging").join(rel)
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tiny-cloud"))
}

/// A fresh directory per test (tests run in parallel), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("tiny-cloud-pkg-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The clouds, from Cargo.toml's default feature set: the same source the
/// packaging scripts use, read independently here.
fn clouds() -> Vec<String> {
    let toml = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let line = toml
        .lines()
        .find(|l| l.trim_start().starts_with("default") && l.contains('['))
        .expect("Cargo.toml has a default feature list");
    let list = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    list.split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File { mode: u32 },
    Link { target: String },
}

/// Every non-directory under `root`, keyed by its path relative to it.
/// Directories are implied by their contents; an empty one would be a
/// packaging leftover, so it is reported as an error.
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        let mut empty = true;
        for entry in fs::read_dir(dir).unwrap() {
            empty = false;
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap().to_string_lossy().into_owned();
                out.insert(rel, Entry::Link { target });
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    rel,
                    Entry::File {
                        mode: meta.permissions().mode() & 0o7777,
                    },
                );
            }
        }
        assert!(!empty || dir == root, "empty directory {}", dir.display());
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

fn file(mode: u32) -> Entry {
    Entry::File { mode }
}

fn expected_bin() -> BTreeMap<String, Entry> {
    BTreeMap::from([
        ("sbin/tiny-cloud".into(), file(0o755)),
        (
            "bin/imds".into(),
            Entry::Link {
                target: "../sbin/tiny-cloud".into(),
            },
        ),
    ])
}

fn expected_openrc() -> BTreeMap<String, Entry> {
    PHASES
        .iter()
        .map(|p| (format!("etc/init.d/tiny-cloud-{p}"), file(0o755)))
        .collect()
}

fn expected_systemd() -> BTreeMap<String, Entry> {
    PHASES
        .iter()
        .map(|p| {
            (
                format!("usr/lib/systemd/system/tiny-cloud-{p}.service"),
                file(0o644),
            )
        })
        .collect()
}

fn expected_common(gzip: bool) -> BTreeMap<String, Entry> {
    let mut m = BTreeMap::from([("etc/tiny-cloud.conf".to_string(), file(0o644))]);
    for page in MAN_PAGES {
        let name = if gzip {
            format!("{page}.gz")
        } else {
            page.to_string()
        };
        m.insert(name, file(0o644));
    }
    m
}

fn install(dest: &Path, init: Option<&str>) -> Output {
    let mut cmd = Command::new(packaging("install.sh"));
    cmd.arg(dest).arg(binary());
    if let Some(init) = init {
        cmd.arg(init);
    }
    run(&mut cmd)
}

#[test]
fn install_sh_lays_out_the_whole_tree() {
    let tmp = TempDir::new("install-both");
    let dest = tmp.path().join("root");
    let out = install(&dest, Some("both"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut want = expected_bin();
    want.extend(expected_common(false));
    want.extend(expected_openrc());
    want.extend(expected_systemd());
    assert_eq!(tree(&dest), want);

    // The link must reach the installed binary, byte for byte the one given.
    let via_link = fs::read(dest.join("bin/imds")).unwrap();
    assert_eq!(
        via_link,
        fs::read(binary()).unwrap(),
        "bin/imds does not resolve to the binary"
    );
    assert_eq!(
        fs::read(dest.join("etc/tiny-cloud.conf")).unwrap(),
        fs::read(packaging("tiny-cloud.conf")).unwrap()
    );
}

#[test]
fn install_sh_installs_only_the_chosen_init_system() {
    let tmp = TempDir::new("install-init");
    let mut base = expected_bin();
    base.extend(expected_common(false));

    for (init, extra) in [
        (None, expected_openrc()), // Alpine's default
        (Some("openrc"), expected_openrc()),
        (Some("systemd"), expected_systemd()),
        (Some("none"), BTreeMap::new()),
    ] {
        let dest = tmp.path().join(init.unwrap_or("default"));
        let out = install(&dest, init);
        assert!(
            out.status.success(),
            "{init:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut want = base.clone();
        want.extend(extra);
        assert_eq!(tree(&dest), want, "init {init:?}");
    }
}

#[test]
fn install_sh_gzips_man_pages_on_request() {
    let tmp = TempDir::new("install-gzip");
    let dest = tmp.path().join("root");
    run_ok(
        Command::new(packaging("install.sh"))
            .env("MAN_GZIP", "1")
            .args(["--only", "conf,man"])
            .arg(&dest)
            .arg("-"),
    );
    assert_eq!(tree(&dest), expected_common(true));
}

#[test]
fn install_sh_rejects_bad_arguments() {
    let tmp = TempDir::new("install-bad");
    let dest = tmp.path().join("root");
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec![],
        vec![dest.clone().into()],
        vec![dest.clone().into(), binary().into(), "upstart".into()],
        vec![
            "--only".into(),
            "bogus".into(),
            dest.clone().into(),
            "-".into(),
        ],
        vec![dest.clone().into(), "-".into()], // bin wanted, no binary
        vec![dest.clone().into(), tmp.path().join("missing").into()],
    ];
    for args in cases {
        let out = run(Command::new(packaging("install.sh")).args(&args));
        assert!(!out.status.success(), "install.sh {args:?} should fail");
        assert!(
            !out.stderr.is_empty(),
            "install.sh {args:?} failed silently"
        );
    }
}

#[test]
fn install_sh_keeps_a_changed_conf() {
    let tmp = TempDir::new("install-conf");
    let dest = tmp.path().join("root");
    fs::create_dir_all(dest.join("etc")).unwrap();
    fs::write(dest.join("etc/tiny-cloud.conf"), "CLOUD_USER=admin\n").unwrap();
    run_ok(
        Command::new(packaging("install.sh"))
            .args(["--only", "conf"])
            .arg(&dest)
            .arg("-"),
    );
    assert_eq!(
        fs::read_to_string(dest.join("etc/tiny-cloud.conf")).unwrap(),
        "CLOUD_USER=admin\n"
    );
    assert_eq!(
        fs::read(dest.join("etc/tiny-cloud.conf.new")).unwrap(),
        fs::read(packaging("tiny-cloud.conf")).unwrap()
    );
}

/// Runs an OpenRC script's depend() with recording stand-ins for the
/// dependency keywords, so what OpenRC would read is checked, not the text.
fn openrc_depends(script: &Path) -> Vec<String> {
    let sh = format!(
        "for kw in need use want after before provide keyword config; do \
           eval \"$kw() {{ echo $kw \\\"\\$*\\\"; }}\"; \
         done; . '{}'; depend",
        script.display()
    );
    let out = run_ok(Command::new("sh").args(["-c", &sh]).current_dir("/"));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn openrc_scripts_parse_and_declare_their_order() {
    let want: [(&str, &[&str]); 4] = [
        ("boot", &["need root", "after logger", "before net"]),
        ("early", &["need net", "after net"]),
        (
            "main",
            &[
                "need net",
                "need tiny-cloud-early",
                "after tiny-cloud-early",
                "before sshd",
            ],
        ),
        (
            "final",
            &["after *", "need tiny-cloud-main", "provide cloud-final"],
        ),
    ];
    for (phase, items) in want {
        let script = packaging(&format!("openrc/tiny-cloud-{phase}"));
        let text = fs::read_to_string(&script).unwrap();
        assert!(text.starts_with("#!/sbin/openrc-run\n"), "{phase}: shebang");
        run_ok(Command::new("sh").arg("-n").arg(&script));
        if have("busybox") {
            // Alpine runs these under busybox ash.
            run_ok(Command::new("busybox").args(["sh", "-n"]).arg(&script));
        }
        let deps = openrc_depends(&script);
        for item in items {
            assert!(
                deps.iter().any(|d| d == item),
                "{phase}: depend() lacks '{item}', has {deps:?}"
            );
        }
        assert!(
            text.contains(&format!("/sbin/tiny-cloud {phase}\n")),
            "{phase}: start() must run /sbin/tiny-cloud {phase}"
        );
    }
}

type Unit = BTreeMap<String, Vec<(String, String)>>;

/// A minimal systemd unit parser: sections, `Key=Value` lines, comments.
fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            unit.entry(name.to_string()).or_default();
            section = Some(name.to_string());
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not Key=Value: {line}", n + 1));
        let section = section
            .as_ref()
            .unwrap_or_else(|| panic!("line {}: key outside a section", n + 1));
        unit.get_mut(section)
            .unwrap()
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    unit
}

fn values<'a>(unit: &'a Unit, section: &str, key: &str) -> Vec<&'a str> {
    unit.get(section)
        .map(|kv| {
            kv.iter()
                .filter(|(k, _)| k == key)
                .flat_map(|(_, v)| v.split_whitespace())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn systemd_units_are_well_formed() {
    let tmp = TempDir::new("systemd");
    for phase in PHASES {
        let path = packaging(&format!("systemd/tiny-cloud-{phase}.service"));
        let text = fs::read_to_string(&path).unwrap();
        let unit = parse_unit(&text);
        let sections: Vec<_> = unit.keys().map(String::as_str).collect();
        assert_eq!(
            sections,
            ["Install", "Service", "Unit"],
            "{phase}: sections"
        );

        let one = |s: &str, k: &str| values(&unit, s, k).join(" ");
        assert!(
            !one("Unit", "Description").is_empty(),
            "{phase}: Description"
        );
        assert_eq!(one("Service", "Type"), "oneshot", "{phase}");
        assert_eq!(one("Service", "RemainAfterExit"), "yes", "{phase}");
        assert_eq!(
            one("Service", "ExecStart"),
            format!("/sbin/tiny-cloud {phase}"),
            "{phase}"
        );
        let conds = values(&unit, "Unit", "ConditionPathExists");
        assert!(
            conds.contains(&"!/var/lib/cloud/.bootstrap-complete"),
            "{phase}: must not start once bootstrapped: {conds:?}"
        );
        assert!(
            !values(&unit, "Install", "WantedBy").is_empty(),
            "{phase}: WantedBy"
        );

        let after = values(&unit, "Unit", "After");
        let before = values(&unit, "Unit", "Before");
        let wants = values(&unit, "Unit", "Wants");
        let requires = values(&unit, "Unit", "Requires");
        // A failed phase must stop the later ones: final writes the marker.
        match phase {
            "main" => assert!(
                requires.contains(&"tiny-cloud-early.service"),
                "{requires:?}"
            ),
            "final" => assert!(
                requires.contains(&"tiny-cloud-main.service"),
                "{requires:?}"
            ),
            _ => {}
        }
        match phase {
            "boot" => {
                assert!(
                    before.contains(&"network-pre.target"),
                    "boot before the network: {before:?}"
                );
                assert!(wants.contains(&"network-pre.target"), "boot: {wants:?}");
            }
            "early" | "final" => {
                assert!(
                    after.contains(&"network-online.target"),
                    "{phase}: {after:?}"
                );
                assert!(
                    wants.contains(&"network-online.target"),
                    "{phase}: {wants:?}"
                );
            }
            "main" => {
                assert!(after.contains(&"network-online.target"), "main: {after:?}");
                assert!(
                    after.contains(&"tiny-cloud-early.service"),
                    "main: {after:?}"
                );
                for sshd in ["sshd.service", "ssh.service"] {
                    assert!(before.contains(&sshd), "main before {sshd}: {before:?}");
                }
            }
            _ => unreachable!(),
        }
        if phase == "final" {
            assert!(
                after.contains(&"multi-user.target"),
                "final runs last: {after:?}"
            );
        }

        // systemd-analyze checks that ExecStart exists, so verify a copy
        // that points at the test binary.
        let copy = tmp.path().join(format!("tiny-cloud-{phase}.service"));
        fs::write(
            &copy,
            text.replace(
                "ExecStart=/sbin/tiny-cloud",
                &format!("ExecStart={}", binary().display()),
            ),
        )
        .unwrap();
    }
    if have("systemd-analyze") {
        let units: Vec<_> = PHASES
            .iter()
            .map(|p| tmp.path().join(format!("tiny-cloud-{p}.service")))
            .collect();
        let out = run(Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .args(&units));
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("systemd-analyze not found: units parsed but not verified");
    }
}

/// BIN_DIR with a copy of the test binary per cloud, each with its cloud's
/// name appended (an ELF still runs with trailing bytes) so the test can
/// tell which binary landed in which package.
fn fake_bin_dir(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let bin = fs::read(binary()).unwrap();
    for cloud in clouds() {
        let mut bytes = bin.clone();
        bytes.extend_from_slice(format!("\ntiny-cloud-test-cloud={cloud}\n").as_bytes());
        let path = dir.join(format!("tiny-cloud-{cloud}"));
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn expected_subpackages() -> BTreeMap<String, BTreeMap<String, Entry>> {
    let mut m = BTreeMap::new();
    m.insert(
        "tiny-cloud".to_string(),
        BTreeMap::from([("etc/tiny-cloud.conf".to_string(), file(0o644))]),
    );
    let mut doc = expected_common(true);
    doc.remove("etc/tiny-cloud.conf");
    m.insert("tiny-cloud-doc".to_string(), doc);
    m.insert("tiny-cloud-openrc".to_string(), expected_openrc());
    for cloud in clouds() {
        m.insert(format!("tiny-cloud-{cloud}"), expected_bin());
    }
    m
}

fn check_staged(out: &Path) {
    let want = expected_subpackages();
    let dirs: Vec<String> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        dirs,
        want.keys().cloned().collect::<Vec<_>>(),
        "subpackage directories"
    );
    for (name, files) in &want {
        assert_eq!(&tree(&out.join(name)), files, "files of {name}");
    }
    for cloud in clouds() {
        let bin = fs::read(out.join(format!("tiny-cloud-{cloud}/sbin/tiny-cloud"))).unwrap();
        let tag = format!("\ntiny-cloud-test-cloud={cloud}\n");
        assert!(
            bin.ends_with(tag.as_bytes()),
            "tiny-cloud-{cloud} holds another cloud's binary"
        );
    }
}

#[test]
fn apk_stage_gives_each_subpackage_only_its_files() {
    let tmp = TempDir::new("apk-stage");
    let bins = tmp.path().join("bins");
    fake_bin_dir(&bins);
    let out = tmp.path().join("stage");
    run_ok(
        Command::new(packaging("apk-stage.sh"))
            .arg(&out)
            .env("BIN_DIR", &bins),
    );
    check_staged(&out);

    let listed = run_ok(Command::new(packaging("apk-stage.sh")).arg("--list"));
    let listed: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        expected_subpackages().keys().cloned().collect::<Vec<_>>()
    );

    // Staging again must not leave files behind from the previous run.
    fs::write(out.join("tiny-cloud/stale"), "x").unwrap();
    run_ok(
        Command::new(packaging("apk-stage.sh"))
            .arg(&out)
            .env("BIN_DIR", &bins),
    );
    check_staged(&out);
}

#[test]
fn apk_stage_rejects_unknown_subpackages() {
    let tmp = TempDir::new("apk-stage-bad");
    for name in ["tiny-cloud-bogus", "other"] {
        let out = run(Command::new(packaging("apk-stage.sh"))
            .args(["--one", name])
            .arg(tmp.path().join("x"))
            .env("BIN_DIR", tmp.path()));
        assert!(!out.status.success(), "--one {name} should fail");
    }
}

#[test]
fn build_clouds_rejects_an_unknown_cloud_before_building() {
    let tmp = TempDir::new("build-bad");
    let out = run(Command::new(packaging("build-clouds.sh"))
        .arg(tmp.path())
        .arg("bogus"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown cloud 'bogus'"));
    let listed = run_ok(Command::new(packaging("build-clouds.sh")).arg("--list"));
    assert_eq!(
        String::from_utf8(listed.stdout)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        clouds()
    );
}

fn apkbuild() -> String {
    fs::read_to_string(packaging("alpine/APKBUILD")).unwrap()
}

/// The value of a top-level `name=value` or `name="..."` assignment in the
/// APKBUILD.
fn apkbuild_var(name: &str) -> String {
    let text = apkbuild();
    let start = text
        .find(&format!("\n{name}="))
        .unwrap_or_else(|| panic!("APKBUILD has no {name}"))
        + name.len()
        + 2;
    let rest = &text[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"').unwrap()].to_string(),
        None => rest.lines().next().unwrap().trim().to_string(),
    }
}

#[test]
fn apkbuild_tracks_cargo_and_the_contract() {
    let listed: Vec<String> = apkbuild_var("_clouds")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        listed,
        clouds(),
        "APKBUILD _clouds must match Cargo.toml's default features"
    );

    let toml = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let version = toml
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"'))
        .unwrap();
    assert_eq!(
        apkbuild_var("pkgver"),
        version,
        "APKBUILD pkgver vs Cargo.toml"
    );

    let depends = apkbuild_var("depends");
    let depends: Vec<&str> = depends.split_whitespace().collect();
    for need in [
        "e2fsprogs-extra",
        "partx",
        "sfdisk",
        "openssh-server",
        "ifupdown-ng",
    ] {
        assert!(depends.contains(&need), "depends lacks {need}");
    }
    for never in ["yx", "wget"] {
        assert!(!depends.contains(&never), "depends must not have {never}");
    }
    let text = apkbuild();
    assert!(
        text.contains("provides=\"$pkgname-cloud=$pkgver-r$pkgrel\""),
        "cloud packages must be alternatives"
    );
    // Single-cloud builds from the vendored lock only (abuild runs offline).
    assert!(
        text.contains("CARGO_FLAGS=\"--frozen\"") && text.contains("packaging/build-clouds.sh"),
        "build() must build every cloud through build-clouds.sh with --frozen"
    );
}

/// Runs the APKBUILD's package functions the way abuild would (sourced,
/// each subpackage function in a subshell with subpkgdir set) and checks
/// they produce exactly what apk-stage.sh stages.
#[test]
fn apkbuild_packages_exactly_the_staged_trees() {
    let tmp = TempDir::new("apkbuild");
    let builddir = tmp.path().join("build");
    fs::create_dir_all(&builddir).unwrap();
    std::os::unix::fs::symlink(repo().join("packaging"), builddir.join("packaging")).unwrap();
    fake_bin_dir(&builddir.join("out"));
    let pkgroot = tmp.path().join("pkg");
    fs::create_dir_all(&pkgroot).unwrap();

    let script = r#"
        set -eu
        default_prepare() { :; }
        . packaging/alpine/APKBUILD
        pkgdir=$PKGROOT/$pkgname
        mkdir -p "$pkgdir"
        package
        for sp in $subpackages; do
            name=${sp%%:*}
            func=${sp#*:}
            [ "$func" != "$sp" ] || func=${name##*-}
            (
                subpkgname=$name
                subpkgdir=$PKGROOT/$name
                mkdir -p "$subpkgdir"
                "$func"
                echo "$name|${provides:-}|${replaces:-}|${depends:-}"
            )
        done
    "#;
    let out = run_ok(
        Command::new("sh")
            .args(["-c", script])
            .current_dir(&builddir)
            .env("builddir", &builddir)
            .env("PKGROOT", &pkgroot),
    );
    check_staged(&pkgroot);

    let meta = String::from_utf8(out.stdout).unwrap();
    for cloud in clouds() {
        let line = meta
            .lines()
            .find(|l| l.starts_with(&format!("tiny-cloud-{cloud}|")))
            .unwrap_or_else(|| panic!("no metadata for tiny-cloud-{cloud}: {meta}"));
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(
            fields[1],
            "tiny-cloud-cloud=0.1.0-r0".replace("0.1.0", env!("CARGO_PKG_VERSION"))
        );
        let replaces: Vec<&str> = fields[2].split_whitespace().collect();
        for other in clouds() {
            let name = format!("tiny-cloud-{other}");
            assert_eq!(
                replaces.contains(&name.as_str()),
                other != cloud,
                "{cloud} replaces {other}?"
            );
        }
        assert!(
            fields[3].starts_with("tiny-cloud="),
            "{cloud} depends on the common package"
        );
    }
}

fn release_profile(toml: &str) -> String {
    let start = toml
        .find("\n[profile.release]")
        .map(|i| i + 1)
        .expect("a [profile.release] section");
    let rest = &toml[start..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
    rest[..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn empty_main_uses_the_same_release_profile() {
    let main = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let empty = fs::read_to_string(packaging("empty-main/Cargo.toml")).unwrap();
    assert_eq!(
        release_profile(&empty),
        release_profile(&main),
        "sizes would compare unlike builds"
    );
    assert!(
        empty.contains("\n[workspace]"),
        "empty-main must be its own workspace"
    );
    // The link options come from the build script; the baseline needs them
    // too, or the deltas would include ~110 KB of tables tiny-cloud drops.
    assert!(
        main.contains("\nbuild = \"src/build.rs\""),
        "main build script"
    );
    assert!(
        empty.contains("\nbuild = \"../../src/build.rs\""),
        "empty-main must share tiny-cloud's build script"
    );
}

#[test]
fn features_md_lists_every_cloud_and_has_the_size_markers() {
    let text = fs::read_to_string(repo().join("features.md")).unwrap();
    let begin = text
        .find("\n<!-- sizes:begin -->\n")
        .expect("sizes:begin marker");
    let end = text.find("\n<!-- sizes:end -->").expect("sizes:end marker");
    assert!(begin < end);
    assert_eq!(text.matches("<!-- sizes:begin -->").count(), 1);
    for cloud in clouds() {
        assert!(
            text.contains(&format!("| `{cloud}` |")),
            "features table lacks {cloud}"
        );
        assert!(
            text.contains(&format!("`tiny-cloud-{cloud}`")),
            "features table lacks tiny-cloud-{cloud}"
        );
    }
}

#[test]
fn packaging_scripts_are_executable_and_shellcheck_clean() {
    let scripts = ["install.sh", "apk-stage.sh", "build-clouds.sh", "sizes.sh"];
    for s in scripts {
        let mode = fs::metadata(packaging(s)).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{s} is not executable");
        let text = fs::read_to_string(packaging(s)).unwrap();
        assert!(
            text.starts_with("#!/bin/sh\n"),
            "{s}: POSIX sh, as on Alpine"
        );
        assert!(text.contains("\nset -eu\n"), "{s}: set -eu");
        run_ok(Command::new("sh").arg("-n").arg(packaging(s)));
    }
    if !have("shellcheck") {
        eprintln!("shellcheck not found: skipped");
        return;
    }
    let mut cmd = Command::new("shellcheck");
    cmd.args(["-s", "sh"]);
    for s in scripts {
        cmd.arg(packaging(s));
    }
    for p in PHASES {
        cmd.arg(packaging(&format!("openrc/tiny-cloud-{p}")));
    }
    run_ok(&mut cmd);
    // The APKBUILD uses abuild's variables and `local`, as aports do.
    run_ok(
        Command::new("shellcheck")
            .args(["-s", "sh", "-e", "SC2034,SC2154,SC2086,SC3043"])
            .arg(packaging("alpine/APKBUILD")),
    );
}

fn compiled_clouds() -> Vec<&'static str> {
    let all = [
        ("aws", cfg!(feature = "aws")),
        ("azure", cfg!(feature = "azure")),
        ("gcp", cfg!(feature = "gcp")),
        ("oci", cfg!(feature = "oci")),
        ("nocloud", cfg!(feature = "nocloud")),
    ];
    all.iter().filter(|(_, on)| *on).map(|(c, _)| *c).collect()
}

#[test]
fn installed_binary_reports_its_version_and_clouds() {
    let tmp = TempDir::new("version");
    let dest = tmp.path().join("root");
    let out = install(&dest, Some("none"));
    assert!(out.status.success());
    let out = run_ok(Command::new(dest.join("sbin/tiny-cloud")).arg("--version"));
    let want = format!(
        "tiny-cloud {} (clouds: {})\n",
        env!("CARGO_PKG_VERSION"),
        compiled_clouds().join(" ")
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

#[test]
fn imds_link_runs_the_client() {
    let tmp = TempDir::new("imds");
    let dest = tmp.path().join("root");
    assert!(install(&dest, Some("none")).status.success());
    let out = run_ok(Command::new(dest.join("bin/imds")).arg("-h"));
    let usage = String::from_utf8(out.stdout).unwrap();
    assert!(
        usage.contains("imds"),
        "imds -h prints the client's usage: {usage}"
    );
    // Invoked as tiny-cloud it is not the client: no arguments is a usage error.
    let out = run(Command::new(dest.join("sbin/tiny-cloud")).env_clear());
    assert!(!out.status.success());
}

/// Contract §2: every setting must be documented in the shipped conf file
/// (commented, at its default) and in tiny-cloud.conf(5).
#[test]
fn conf_file_and_man_page_document_every_setting() {
    let keys = [
        "CLOUD",
        "CLOUD_USER",
        "TINY_CLOUD_VAR",
        "TINY_CLOUD_LOGS",
        "IMDS_ENDPOINT",
        "IMDS_TOKEN_TTL",
        "IMDS_DEADLINE",
        "SKIP_INIT_ACTIONS",
        "INIT_ACTIONS_BOOT",
        "INIT_ACTIONS_EARLY",
        "INIT_ACTIONS_MAIN",
        "INIT_ACTIONS_FINAL",
        "HOTPLUG_TYPE",
        "HOTPLUG_MODULES",
        "TINY_CLOUD_LINK_WAIT_MAX",
    ];
    let conf = fs::read_to_string(packaging("tiny-cloud.conf")).unwrap();
    let page = fs::read_to_string(packaging("man/tiny-cloud.conf.5")).unwrap();
    for key in keys {
        assert!(
            conf.lines().any(|l| l.starts_with(&format!("#{key}="))),
            "tiny-cloud.conf lacks a commented default for {key}"
        );
        assert!(
            page.contains(&format!(".B {key}\n")),
            "tiny-cloud.conf(5) lacks {key}"
        );
    }
    // Everything is commented out: the file changes no default.
    for line in conf.lines() {
        assert!(
            line.is_empty() || line.starts_with('#'),
            "active line in tiny-cloud.conf: {line}"
        );
    }
    for (key, default) in [
        ("CLOUD", "auto"),
        ("CLOUD_USER", "alpine"),
        ("IMDS_TOKEN_TTL", "5"),
        ("IMDS_DEADLINE", "10"),
        ("HOTPLUG_TYPE", "mdev"),
        ("TINY_CLOUD_LINK_WAIT_MAX", "10"),
    ] {
        assert!(
            conf.contains(&format!("\n#{key}={default}\n")),
            "{key} default should read {default}"
        );
    }
}

#[test]
fn man_pages_format_without_warnings() {
    if !have("groff") {
        eprintln!("groff not found: man pages not checked");
        return;
    }
    for page in ["tiny-cloud.8", "imds.1", "tiny-cloud.conf.5"] {
        let out = run_ok(
            Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(packaging(&format!("man/{page}")))
                .env("LC_ALL", "C.UTF-8"),
        );
        assert!(
            out.stderr.is_empty(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A stand-in for cargo that "builds" in a blink: the binary it leaves is a
/// shell script that answers --version with the features it was given,
/// padded to a size chosen per feature set. FAKE_WRONG=<cloud> makes that
/// cloud's binary claim an extra cloud; FAKE_BIG=<set> makes that set's
/// binary 1 MiB + 1 byte, over every budget.
const FAKE_CARGO: &str = r#"#!/bin/sh
set -eu
td= features= manifest=
while [ $# -gt 0 ]; do
    case $1 in
    --target-dir) td=$2; shift ;;
    --features) features=$2; shift ;;
    --manifest-path) manifest=$2; shift ;;
    esac
    shift
done
mkdir -p "$td/release"
if [ -n "$manifest" ]; then
    head -c 1000 /dev/zero >"$td/release/empty-main"
    exit 0
fi
set_name=${features:-all}
clouds=${features:-$FAKE_ALL}
[ "${FAKE_WRONG:-}" != "$set_name" ] || clouds="$clouds gcp"
out=$td/release/tiny-cloud
printf '#!/bin/sh\necho "tiny-cloud 0.1.0 (clouds: %s)"\nexit 0\n' "$clouds" >"$out"
size=$(( 2000 + ${#set_name} ))
[ "${FAKE_BIG:-}" != "$set_name" ] || size=1048577
head -c "$((size - $(wc -c <"$out")))" /dev/zero >>"$out"
chmod 755 "$out"
"#;

fn sizes_env(tmp: &Path, cmd: &mut Command) {
    let cargo = tmp.join("fake-cargo");
    if !cargo.exists() {
        fs::write(&cargo, FAKE_CARGO).unwrap();
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
    }
    cmd.env("CARGO", &cargo)
        .env("STRIP", "true")
        .env("FAKE_ALL", clouds().join(" "))
        .env("PACKAGING_TARGET_DIR", tmp.join("target"))
        .env("FEATURES_MD", tmp.join("features.md"))
        .env_remove("SIZES_TOLERANCE");
}

#[test]
fn sizes_sh_writes_and_checks_the_table() {
    let tmp = TempDir::new("sizes");
    let doc = tmp.path().join("features.md");
    let mut intro =
        String::from("# intro\n\n| feature | cloud | what it fetches | binary size | APK |\n");
    for cloud in clouds() {
        intro += &format!("| `{cloud}` | {cloud} | a | b | ? KiB | `tiny-cloud-{cloud}` |\n");
    }
    // Five columns each; "a | b" above is one of them too many.
    let five_columns = intro.replace(" | a | b | ", " | a, b | ");
    // Another table with cloud rows is left alone.
    let other = "\n| feature | cloud | detected by | sent with |\n| `aws` | x | y | z |\n";
    intro += other;
    let five_columns = five_columns + other;
    fs::write(
        &doc,
        format!("{intro}\n<!-- sizes:begin -->\nold table\n<!-- sizes:end -->\n\ntail\n"),
    )
    .unwrap();
    let sizes = |args: &[&str], extra: &[(&str, &str)]| {
        let mut cmd = Command::new(packaging("sizes.sh"));
        cmd.args(args);
        sizes_env(tmp.path(), &mut cmd);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };

    let out = sizes(&[], &[]);
    assert!(!out.status.success(), "a six-column feature row is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs 5 columns"));
    let text = fs::read_to_string(&doc).unwrap();
    fs::write(&doc, text.replace(&intro, &five_columns)).unwrap();

    let out = sizes(&["--check"], &[]);
    assert!(!out.status.success(), "an old table must be stale");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stale"));

    let out = sizes(&[], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&doc).unwrap();
    let filled = five_columns.replace("? KiB", "2.0 KiB");
    assert!(
        text.starts_with(&format!("{filled}\n<!-- sizes:begin -->\n")),
        "{text}"
    );
    assert!(text.ends_with("<!-- sizes:end -->\n\ntail\n"), "{text}");
    assert!(!text.contains("old table"));
    assert!(
        text.contains("| empty `fn main() {}` | 1000 | 1.0 | 0 (+0.0 KiB) | — |"),
        "{text}"
    );
    for cloud in clouds() {
        let bytes = 2000 + cloud.len();
        let row = format!("| {cloud} | {bytes} | ");
        assert!(text.contains(&row), "no row {row} in {text}");
        assert!(
            text.contains(&format!("| {} (+", bytes - 1000)),
            "delta for {cloud}"
        );
        assert!(
            text.contains(&format!("| tiny-cloud-{cloud} |")),
            "APK name for {cloud}"
        );
    }
    assert!(text.contains("| all (default) | 2003 | "), "{text}");

    let out = sizes(&["--check"], &[]);
    assert!(
        out.status.success(),
        "fresh table: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A few bytes of drift: stale unless within SIZES_TOLERANCE.
    let drifted = text.replace("| all (default) | 2003 | ", "| all (default) | 2008 | ");
    fs::write(&doc, &drifted).unwrap();
    assert!(!sizes(&["--check"], &[]).status.success());
    assert!(
        sizes(&["--check"], &[("SIZES_TOLERANCE", "10")])
            .status
            .success()
    );
    assert!(
        !sizes(&["--check"], &[("SIZES_TOLERANCE", "2")])
            .status
            .success()
    );
    fs::write(&doc, &text).unwrap();

    // The feature table's size column is checked too, within the tolerance.
    let first = &clouds()[0];
    let cell = format!("| 2.0 KiB | `tiny-cloud-{first}` |");
    let off = text.replace(&cell, &format!("| 9.0 KiB | `tiny-cloud-{first}` |"));
    fs::write(&doc, &off).unwrap();
    for tolerance in ["0", "10"] {
        let out = sizes(&["--check"], &[("SIZES_TOLERANCE", tolerance)]);
        assert!(
            !out.status.success(),
            "size column off, tolerance {tolerance}"
        );
    }
    fs::write(&doc, &text).unwrap();

    // Over budget: a warning when writing the table, a failure when checking.
    let first = &clouds()[0];
    let out = sizes(&[], &[("FAKE_BIG", first.as_str())]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("WARNING: {first} binary is 1048577 bytes")),
        "{err}"
    );
    let out = sizes(&["--check"], &[("FAKE_BIG", first.as_str())]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("over budget"));
    let out = sizes(&[], &[("FAKE_BIG", "all")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARNING: all-clouds binary"));
}

#[test]
fn build_clouds_refuses_a_binary_with_the_wrong_clouds() {
    let tmp = TempDir::new("build-wrong");
    let first = clouds()[0].clone();
    let mut cmd = Command::new(packaging("build-clouds.sh"));
    cmd.arg(tmp.path().join("bin")).arg(&first);
    sizes_env(tmp.path(), &mut cmd);
    run_ok(&mut cmd);

    let mut cmd = Command::new(packaging("build-clouds.sh"));
    cmd.arg(tmp.path().join("bin"))
        .arg(&first)
        .env("FAKE_WRONG", &first);
    sizes_env(tmp.path(), &mut cmd);
    let out = run(&mut cmd);
    assert!(
        !out.status.success(),
        "a {first} build that has gcp too must be refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected"));
}
