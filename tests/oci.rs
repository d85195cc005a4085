//! OCI end to end: the real binary against a mock IMDS v2 that answers 401
//! without `Authorization: Bearer Oracle`, a whole first boot, the `imds`
//! client, and base64 user-data that is not base64.
#![cfg(feature = "oci")]

mod support;

use support::mock_imds::{Flavor, MockImds, raw_get};
use support::{FakeRoot, Fakes, Tc, first_boot_ok};

const SCRIPT: &[u8] = b"#!/bin/sh\necho hello from oci\n";
const KEYS: &str = "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n";

fn oci_root(name: &str) -> FakeRoot {
    let root = FakeRoot::alpine(name);
    root.write("sys/class/dmi/id/chassis_asset_tag", "OracleCloud.com\n");
    root
}

fn setup(name: &str, userdata: Option<&[u8]>) -> (FakeRoot, Fakes, MockImds) {
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::Oci);
    imds.oci_instance(userdata);
    (oci_root(name), fakes, imds)
}

#[test]
fn mock_refuses_what_the_real_service_refuses() {
    let imds = MockImds::start(Flavor::Oci);
    imds.oci_instance(None);
    let path = "/opc/v2/instance/hostname";
    assert_eq!(raw_get(imds.addr, path, &[]).0, 401);
    assert_eq!(
        raw_get(imds.addr, path, &[("Authorization", "Bearer Oracle2")]).0,
        401
    );
    assert_eq!(imds.rejected(), 2);
    let (status, _, body) = raw_get(imds.addr, path, &[("Authorization", "Bearer Oracle")]);
    assert_eq!((status, body.as_slice()), (200, &b"alpine-oci"[..]));
    assert_eq!(imds.rejected(), 2);
}

#[test]
fn imds_client_aliases_and_raw_paths() {
    let (root, fakes, imds) = setup("oci-imds", Some(SCRIPT));
    let t = Tc::against(&root, &fakes, &imds);
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, "alpine-oci\n");
    assert_eq!(t.imds(&["@local-hostname"]).ok().stdout, "alpine-oci\n");
    assert_eq!(t.imds(&["@ssh-keys"]).ok().stdout, KEYS);
    assert_eq!(t.imds(&["@userdata"]).ok().stdout.as_bytes(), SCRIPT);
    assert_eq!(
        t.imds(&["instance/id"]).ok().stdout,
        "ocid1.instance.oc1.phx.exampleuniqueid\n"
    );
    let r = t.imds(&["instance/nope"]);
    r.failed();
    assert!(r.stderr.contains("instance/nope"), "{}", r.stderr);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn full_first_boot() {
    let (root, fakes, imds) = setup("oci-boot", Some(SCRIPT));
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    let want = support::Booted {
        cloud: "oci",
        fqdn: "alpine-oci",
        keys: KEYS,
        script: SCRIPT,
        output: "hello from oci",
    };
    support::assert_booted(&root, &log, &want);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn invalid_base64_userdata_fails_and_writes_nothing() {
    let (root, fakes, imds) = setup("oci-b64", None);
    imds.set(
        "instance/metadata/user_data",
        "#!/bin/sh\necho not encoded\n",
    );
    let r = Tc::against(&root, &fakes, &imds).run(&["early"]);
    r.failed()
        .has("save_userdata: failed")
        .has("OCI instance/metadata/user_data: invalid base64 character at offset 0");
    assert!(!root.exists("var/lib/cloud/user-data"));
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn no_userdata_and_no_keys_are_fine() {
    let (root, fakes, imds) = setup("oci-empty", None);
    imds.remove("instance/metadata/ssh_authorized_keys");
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    assert!(log.contains("set_ssh_keys: no ssh key found"), "{log}");
    assert!(log.contains("missing_userdata: done"), "{log}");
    assert!(!root.exists("home/alpine/.ssh"));
    assert!(!root.exists("var/lib/cloud/user-data"));
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn autodetect_by_asset_tag() {
    let root = oci_root("oci-detect");
    assert_eq!(Tc::new(&root).run(&["autodetect"]).ok().stdout, "oci\n");
}
