//! Autodetection (contract §6): every sign of every compiled-in cloud, the
//! precedence of NoCloud over DMI signs, the `.autodetect` cache, the
//! unknown case and the `CLOUD` setting's errors. Tests for a cloud only
//! run in builds that contain it.

mod support;

use support::{FakeRoot, Fakes, Tc};

/// The clouds this build contains, as `--version` names them.
fn compiled(root: &FakeRoot) -> Vec<String> {
    let version = Tc::new(root).run(&["--version"]).stdout;
    version
        .split("(clouds: ")
        .nth(1)
        .unwrap_or("")
        .trim_end()
        .trim_end_matches(')')
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What `tiny-cloud autodetect` prints on a root prepared by `sign`.
fn detected(name: &str, sign: impl Fn(&FakeRoot, &Fakes)) -> String {
    let root = FakeRoot::alpine(name);
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    sign(&root, &fakes);
    let r = Tc::new(&root).fakes(&fakes).run(&["autodetect"]);
    r.ok();
    assert!(
        !root.exists("var/lib/cloud/.autodetect"),
        "`autodetect` must not write the cache"
    );
    r.stdout.trim().to_string()
}

/// What a root with no sign at all is detected as in this build.
fn nothing(root: &FakeRoot) -> String {
    match compiled(root).as_slice() {
        [only] => only.clone(),
        _ => "unknown".to_string(),
    }
}

fn dmi(root: &FakeRoot, key: &str, value: &str) {
    root.write(&format!("sys/class/dmi/id/{key}"), format!("{value}\n"));
}

#[cfg(feature = "nocloud")]
mod nocloud {
    use super::*;

    fn cmdline(root: &FakeRoot, text: &str) {
        root.write("proc/cmdline", format!("root=/dev/vda2 {text} quiet\n"));
    }

    #[test]
    fn kernel_command_line() {
        for ds in ["ds=nocloud", "ds=nocloud-net", "ds=nocloud;h=a;s=/x/"] {
            assert_eq!(
                detected("ad-nc-cmd", |r, _| cmdline(r, ds)),
                "nocloud",
                "{ds}"
            );
        }
    }

    #[test]
    fn dmi_product_serial() {
        assert_eq!(
            detected("ad-nc-serial", |r, _| dmi(
                r,
                "product_serial",
                "ds=nocloud;s=http://10.0.0.1/"
            )),
            "nocloud"
        );
    }

    #[test]
    fn volume_labels() {
        for label in ["cidata", "CIDATA"] {
            // Through udev's by-label links.
            let got = detected("ad-nc-link", |r, _| {
                r.mkdir("dev/disk/by-label");
                std::os::unix::fs::symlink(
                    "../../vdb",
                    r.path(&format!("dev/disk/by-label/{label}")),
                )
                .unwrap();
            });
            assert_eq!(got, "nocloud", "{label} link");
            // Through findfs, as on Alpine with mdev.
            let got = detected("ad-nc-findfs", |_, f| {
                f.script(
                    "findfs",
                    &format!("[ \"$1\" = LABEL={label} ] && echo /dev/vdb && exit 0\nexit 1"),
                );
            });
            assert_eq!(got, "nocloud", "{label} findfs");
        }
    }

    #[test]
    fn near_misses_are_not_signs() {
        let root = FakeRoot::alpine("ad-nc-miss");
        let want = nothing(&root);
        for text in ["ds=nocloudish", "xds=nocloud", "ds=NoCloud2"] {
            let got = detected("ad-nc-miss", |r, f| {
                cmdline(r, text);
                dmi(r, "product_serial", "ec2-serial ds=other");
                f.script("findfs", "echo 'findfs: unable to resolve' >&2\nexit 1");
            });
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn alpine_is_nocloud_with_a_deprecation_warning() {
        let root = FakeRoot::alpine("ad-alpine");
        let r = Tc::new(&root).env("CLOUD", "alpine").run(&["autodetect"]);
        r.ok().has("CLOUD=alpine is deprecated; use CLOUD=nocloud");
        assert_eq!(r.stdout, "nocloud\n");
        root.write("proc/cmdline", "ds=nocloud;h=alp\n");
        let r = Tc::new(&root).env("CLOUD", "alpine").imds(&["@hostname"]);
        r.ok().has("deprecated");
        assert_eq!(r.stdout, "alp\n");
    }
}

#[cfg(not(feature = "nocloud"))]
#[test]
fn alpine_without_nocloud_names_what_this_build_has() {
    let root = FakeRoot::alpine("ad-alpine-missing");
    let r = Tc::new(&root).env("CLOUD", "alpine").run(&["autodetect"]);
    r.failed()
        .has("invalid setting CLOUD='alpine': is not compiled into this build; this build has:");
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;

    #[test]
    fn dmi_signs() {
        for (key, value) in [
            ("sys_vendor", "Amazon EC2"),
            ("bios_vendor", "Amazon EC2"),
            ("product_uuid", "ec2e1916-9099-7caf-fd21-012345abcdef"),
            ("product_uuid", "EC2E1916-9099-7CAF-FD21-012345ABCDEF"),
        ] {
            assert_eq!(
                detected("ad-aws", |r, _| dmi(r, key, value)),
                "aws",
                "{key}={value}"
            );
        }
    }

    #[test]
    fn near_misses_are_not_signs() {
        let root = FakeRoot::alpine("ad-aws-miss");
        let want = nothing(&root);
        for (key, value) in [
            ("sys_vendor", "Amazon"),
            ("product_uuid", "1ec2e1916-9099"),
            ("product_name", "Amazon EC2"),
        ] {
            assert_eq!(detected("ad-aws-miss", |r, _| dmi(r, key, value)), want);
        }
    }
}

#[cfg(feature = "azure")]
#[test]
fn azure_sign() {
    assert_eq!(
        detected("ad-azure", |r, _| dmi(
            r,
            "chassis_asset_tag",
            "7783-7084-3265-9085-8269-3286-77"
        )),
        "azure"
    );
}

#[cfg(feature = "gcp")]
#[test]
fn gcp_sign() {
    assert_eq!(
        detected("ad-gcp", |r, _| dmi(
            r,
            "product_name",
            "Google Compute Engine"
        )),
        "gcp"
    );
}

#[cfg(feature = "oci")]
#[test]
fn oci_sign() {
    assert_eq!(
        detected("ad-oci", |r, _| dmi(
            r,
            "chassis_asset_tag",
            "OracleCloud.com"
        )),
        "oci"
    );
}

/// Values close to Azure's, GCP's and OCI's signs are not theirs: the
/// match is exact and on the one DMI file each cloud is known by.
#[cfg(any(feature = "azure", feature = "gcp", feature = "oci"))]
#[test]
fn dmi_near_misses_are_not_signs() {
    let root = FakeRoot::alpine("ad-dmi-miss");
    let want = nothing(&root);
    for (key, value) in [
        ("chassis_asset_tag", "7783-7084-3265-9085-8269-3286"),
        ("board_asset_tag", "7783-7084-3265-9085-8269-3286-77"),
        ("product_name", "Google"),
        ("sys_vendor", "Google Compute Engine"),
        ("chassis_asset_tag", "oraclecloud.com"),
        ("sys_vendor", "OracleCloud.com"),
    ] {
        assert_eq!(
            detected("ad-dmi-miss", |r, _| dmi(r, key, value)),
            want,
            "{key}={value}"
        );
    }
}

/// NoCloud's explicit signs win over every DMI sign in the build.
#[cfg(feature = "nocloud")]
#[test]
fn nocloud_beats_dmi_signs() {
    let got = detected("ad-prec", |r, _| {
        r.write("proc/cmdline", "ds=nocloud;h=x\n");
        dmi(r, "sys_vendor", "Amazon EC2");
        dmi(r, "product_name", "Google Compute Engine");
        dmi(r, "chassis_asset_tag", "OracleCloud.com");
    });
    assert_eq!(got, "nocloud");
    let got = detected("ad-prec-vol", |r, f| {
        dmi(r, "sys_vendor", "Amazon EC2");
        dmi(r, "chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77");
        f.script("findfs", "[ \"$1\" = LABEL=cidata ] && echo /dev/sr0");
    });
    assert_eq!(got, "nocloud");
}

#[test]
fn unknown_machine() {
    let root = FakeRoot::alpine("ad-unknown");
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let clouds = compiled(&root);
    let t = Tc::new(&root).fakes(&fakes);
    let r = t.run(&["autodetect"]);
    r.ok();
    if clouds.len() > 1 {
        assert_eq!(r.stdout, "unknown\n");
        let before = root.snapshot();
        let r = t.run(&["boot"]);
        r.failed().has("cannot tell which cloud this is");
        assert!(
            r.stderr.contains(&clouds.join(" ")),
            "names the choices: {}",
            r.stderr
        );
        assert_eq!(root.snapshot(), before, "nothing written");
    } else {
        // A one-cloud build simply is that cloud.
        assert_eq!(r.stdout, format!("{}\n", clouds[0]));
    }
}

#[test]
fn cloud_setting_errors_name_what_this_build_has() {
    let root = FakeRoot::alpine("ad-setting");
    let clouds = compiled(&root).join(" ");
    let r = Tc::new(&root).env("CLOUD", "hetzner").run(&["autodetect"]);
    r.failed().has(&format!(
        "invalid setting CLOUD='hetzner': is not compiled into this build; this build has: {clouds}"
    ));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = Tc::new(&root).env("CLOUD", "mars").run(&["boot"]);
    r.failed()
        .has("invalid setting CLOUD='mars': is not a known cloud");
    let r = Tc::new(&root).env("CLOUD", "mars").imds(&["@hostname"]);
    r.failed();
    assert!(r.stderr.contains("CLOUD='mars'"), "{}", r.stderr);
    for cloud in compiled(&root) {
        let r = Tc::new(&root).env("CLOUD", &cloud).run(&["autodetect"]);
        assert_eq!(r.ok().stdout, format!("{cloud}\n"));
    }
}

/// The first phase caches what it detected; later phases and `imds` use
/// the cache even when the signs change, `autodetect` never writes it, and
/// a cache naming a cloud this build lacks is ignored.
#[cfg(all(feature = "nocloud", feature = "aws"))]
#[test]
fn the_cache() {
    let root = FakeRoot::alpine("ad-cache");
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    root.write("proc/cmdline", "ds=nocloud;h=cached\n");
    dmi(&root, "sys_vendor", "Amazon EC2");
    let t = Tc::new(&root)
        .fakes(&fakes)
        .env("INIT_ACTIONS_BOOT", "")
        .env("INIT_ACTIONS_EARLY", "");
    assert_eq!(t.run(&["autodetect"]).ok().stdout, "nocloud\n");
    assert!(!root.exists("var/lib/cloud/.autodetect"));
    t.run(&["boot"]).ok();
    assert_eq!(root.read("var/lib/cloud/.autodetect"), "nocloud\n");

    // The NoCloud sign goes away; the machine still is what boot decided.
    root.write("proc/cmdline", "root=/dev/vda2\n");
    assert_eq!(t.run(&["autodetect"]).ok().stdout, "nocloud\n");
    t.run(&["early"]).ok();
    // imds follows the cache too: NoCloud, now without a seed, says so.
    let r = t.imds(&["@hostname"]);
    r.failed();
    assert!(r.stderr.contains("no NoCloud seed"), "{}", r.stderr);

    // A cache naming a cloud this build does not have is ignored.
    root.write("var/lib/cloud/.autodetect", "hetzner\n");
    assert_eq!(t.run(&["autodetect"]).ok().stdout, "aws\n");
    // An explicit CLOUD beats the cache and does not write it.
    root.write("var/lib/cloud/.autodetect", "aws\n");
    let r = Tc::new(&root)
        .fakes(&fakes)
        .env("CLOUD", "nocloud")
        .run(&["autodetect"]);
    assert_eq!(r.ok().stdout, "nocloud\n");
    assert_eq!(root.read("var/lib/cloud/.autodetect"), "aws\n");
}

/// Single-cloud form of the cache test, so every build checks the basics.
#[test]
fn phase_writes_the_cache_and_autodetect_reads_it() {
    let root = FakeRoot::alpine("ad-cache-any");
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let clouds = compiled(&root);
    let Some(last) = clouds.last().cloned() else {
        return;
    };
    root.write("var/lib/cloud/.autodetect", format!("{last}\n"));
    let t = Tc::new(&root).fakes(&fakes);
    assert_eq!(t.run(&["autodetect"]).ok().stdout, format!("{last}\n"));
    std::fs::remove_file(root.path("var/lib/cloud/.autodetect")).unwrap();
    if clouds.len() == 1 {
        t.env("INIT_ACTIONS_BOOT", "").run(&["boot"]).ok();
        assert_eq!(root.read("var/lib/cloud/.autodetect"), format!("{last}\n"));
    }
}
