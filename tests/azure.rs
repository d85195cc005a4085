//! Azure end to end: the real binary against a mock IMDS that insists on
//! `Metadata: true` and `api-version` like the real one, a whole first
//! boot, the `imds` client, and base64 user-data that is not base64.
#![cfg(feature = "azure")]

mod support;

use support::mock_imds::{Flavor, MockImds, raw_get};
use support::{FakeRoot, Fakes, Tc, first_boot_ok};

const SCRIPT: &[u8] = b"#!/bin/sh\necho hello from azure\n";
const ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";

fn setup(name: &str, userdata: Option<&[u8]>) -> (FakeRoot, Fakes, MockImds) {
    let root = FakeRoot::alpine(name);
    root.write(
        "sys/class/dmi/id/chassis_asset_tag",
        format!("{ASSET_TAG}\n"),
    );
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::Azure);
    imds.azure_instance(userdata);
    (root, fakes, imds)
}

#[test]
fn mock_refuses_what_the_real_service_refuses() {
    let imds = MockImds::start(Flavor::Azure);
    imds.azure_instance(None);
    let doc = "/metadata/instance?api-version=2021-05-01";
    let name = "/metadata/instance/compute/name?api-version=2021-05-01&format=text";
    let meta = [("Metadata", "true")];
    assert_eq!(raw_get(imds.addr, doc, &[]).0, 400, "no Metadata header");
    assert_eq!(raw_get(imds.addr, doc, &[("Metadata", "yes")]).0, 400);
    assert_eq!(
        raw_get(imds.addr, "/metadata/instance", &meta).0,
        400,
        "no api-version"
    );
    assert_eq!(
        raw_get(
            imds.addr,
            "/metadata/instance?api-version=1999-01-01",
            &meta
        )
        .0,
        400,
        "unknown api-version"
    );
    assert_eq!(
        raw_get(
            imds.addr,
            "/metadata/instance/compute/name?api-version=2021-05-01",
            &meta
        )
        .0,
        400,
        "a leaf as JSON"
    );
    assert_eq!(
        raw_get(
            imds.addr,
            "/metadata/instance/compute?api-version=2021-05-01&format=text",
            &meta
        )
        .0,
        400,
        "a subtree as text"
    );
    assert_eq!(imds.rejected(), 6);
    let (status, _, body) = raw_get(imds.addr, name, &meta);
    assert_eq!((status, body.as_slice()), (200, &b"alpine-azure"[..]));
    let (status, _, body) = raw_get(imds.addr, doc, &meta);
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["compute"]["name"], "alpine-azure");
    assert_eq!(imds.rejected(), 6);
}

#[test]
fn imds_client_aliases_and_raw_paths() {
    let (root, fakes, imds) = setup("azure-imds", Some(SCRIPT));
    let t = Tc::against(&root, &fakes, &imds);
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, "alpine-azure\n");
    assert_eq!(t.imds(&["@local-hostname"]).ok().stdout, "alpine-azure\n");
    assert_eq!(
        t.imds(&["@ssh-keys"]).ok().stdout,
        "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n"
    );
    assert_eq!(t.imds(&["@userdata"]).ok().stdout.as_bytes(), SCRIPT);
    assert_eq!(t.imds(&["compute/vmSize"]).ok().stdout, "Standard_B1s\n");
    assert_eq!(
        t.imds(&["network/interface/0/ipv4/ipAddress/0/privateIpAddress"])
            .ok()
            .stdout,
        "10.0.0.4\n"
    );
    // A trailing slash asks for the subtree as JSON.
    let subtree: serde_json::Value =
        serde_json::from_str(&t.imds(&["network/interface/0/ipv4/"]).ok().stdout).unwrap();
    assert_eq!(subtree["subnet"][0]["prefix"], "24");
    let r = t.imds(&["compute/nope"]);
    r.failed();
    assert!(r.stderr.contains("compute/nope"), "{}", r.stderr);
    assert_eq!(imds.rejected(), 0);

    // The aliases share one fetch of the instance document per process.
    let before = imds.requests().len();
    let r = t.imds(&[
        "@hostname",
        "@ssh-keys",
        "@userdata",
        "+n",
        "@local-hostname",
    ]);
    r.ok();
    let requests = imds.requests();
    assert_eq!(
        &requests[before..],
        ["GET /metadata/instance?api-version=2021-05-01"]
    );
    for r in &requests {
        assert!(r.contains("api-version=2021-05-01"), "{r}");
    }
}

#[test]
fn full_first_boot() {
    let (root, fakes, imds) = setup("azure-boot", Some(SCRIPT));
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    let want = support::Booted {
        cloud: "azure",
        fqdn: "alpine-azure",
        keys: "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n",
        script: SCRIPT,
        output: "hello from azure",
    };
    support::assert_booted(&root, &log, &want);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn invalid_base64_userdata_fails_and_writes_nothing() {
    let (root, fakes, imds) = setup("azure-b64", None);
    imds.azure_edit(|doc| doc["compute"]["userData"] = "IyEvYmluL3No*not-base64".into());
    let r = Tc::against(&root, &fakes, &imds).run(&["early"]);
    r.failed()
        .has("save_userdata: failed")
        .has("Azure compute/userData: invalid base64 character at offset 12");
    assert!(!root.exists("var/lib/cloud/user-data"));
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn no_userdata_no_keys_no_name() {
    let (root, fakes, imds) = setup("azure-empty", None);
    imds.azure_edit(|doc| {
        doc["compute"]["publicKeys"] = serde_json::json!([]);
        doc["compute"]["name"] = "".into();
    });
    let t = Tc::against(&root, &fakes, &imds);
    t.run(&["early"]).ok().has("save_userdata: done");
    assert!(!root.exists("var/lib/cloud/user-data"));
    t.run(&["main"])
        .ok()
        .has("missing_userdata: done")
        .has("set_hostname: no hostname set")
        .has("set_ssh_keys: no ssh key found");
    assert!(!root.exists("etc/hostname"));

    // An older document without the fields at all reads the same.
    imds.azure_edit(|doc| {
        let compute = doc["compute"].as_object_mut().unwrap();
        compute.remove("userData");
        compute.remove("publicKeys");
    });
    t.imds(&["@ssh-keys"]).ok();
    let r = t.imds(&["@userdata"]);
    r.failed();
    assert!(r.stderr.contains("userData: not found"), "{}", r.stderr);
}

#[test]
fn a_document_that_is_not_json_is_a_clear_error() {
    let (root, fakes, imds) = setup("azure-notjson", None);
    imds.set("metadata/instance", "<html>captive portal</html>");
    let r = Tc::against(&root, &fakes, &imds).imds(&["@hostname"]);
    r.failed();
    assert!(
        r.stderr.contains("not valid JSON") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
}

#[test]
fn autodetect_by_asset_tag() {
    let root = FakeRoot::alpine("azure-detect");
    root.write(
        "sys/class/dmi/id/chassis_asset_tag",
        format!("{ASSET_TAG}\n"),
    );
    assert_eq!(Tc::new(&root).run(&["autodetect"]).ok().stdout, "azure\n");
}
