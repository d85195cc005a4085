//! GCP end to end: the real binary against a mock metadata server that
//! answers 403 without `Metadata-Flavor: Google` and marks its answers with
//! it, a whole first boot, project/instance SSH keys, and a lookalike server
//! whose answers are unmarked.
#![cfg(feature = "gcp")]

mod support;

use support::mock_imds::{Flavor, MockImds, raw_get};
use support::{FakeRoot, Fakes, Tc, first_boot_ok};

const SCRIPT: &[u8] = b"#!/bin/sh\necho hello from gcp\n";
const FQDN: &str = "alpine-gcp.us-central1-a.c.my-project.internal";
const ALICE: &str = "ssh-ed25519 AAAAalice alice@example";
const BOB: &str = "ssh-ed25519 AAAAbob bob@example";

fn gce_root(name: &str) -> FakeRoot {
    let root = FakeRoot::alpine(name);
    root.write("sys/class/dmi/id/product_name", "Google Compute Engine\n");
    root
}

fn setup(name: &str, userdata: Option<&[u8]>) -> (FakeRoot, Fakes, MockImds) {
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::Gcp);
    imds.gcp_instance(userdata);
    (gce_root(name), fakes, imds)
}

#[test]
fn mock_refuses_what_the_real_server_refuses() {
    let imds = MockImds::start(Flavor::Gcp);
    imds.gcp_instance(None);
    let path = "/computeMetadata/v1/instance/hostname";
    let (status, head, _) = raw_get(imds.addr, path, &[]);
    assert_eq!(status, 403, "{head}");
    assert!(head.contains("Metadata-Flavor: Google"), "{head}");
    assert_eq!(
        raw_get(imds.addr, path, &[("Metadata-Flavor", "Amazon")]).0,
        403
    );
    assert_eq!(imds.rejected(), 2);
    let (status, head, body) = raw_get(imds.addr, path, &[("Metadata-Flavor", "Google")]);
    assert_eq!((status, body.as_slice()), (200, FQDN.as_bytes()));
    assert!(head.contains("Metadata-Flavor: Google"), "{head}");
    assert_eq!(imds.rejected(), 2);
}

#[test]
fn imds_client_aliases_and_raw_paths() {
    let (root, fakes, imds) = setup("gcp-imds", Some(SCRIPT));
    let t = Tc::against(&root, &fakes, &imds);
    assert_eq!(t.imds(&["@hostname"]).ok().stdout, format!("{FQDN}\n"));
    assert_eq!(
        t.imds(&["@local-hostname"]).ok().stdout,
        format!("{FQDN}\n")
    );
    assert_eq!(
        t.imds(&["@ssh-keys"]).ok().stdout,
        format!("{ALICE}\n{BOB}\n")
    );
    assert_eq!(t.imds(&["@userdata"]).ok().stdout.as_bytes(), SCRIPT);
    assert_eq!(
        t.imds(&["instance/id"]).ok().stdout,
        "4567890123456789012\n"
    );
    let r = t.imds(&["instance/nope"]);
    r.failed();
    assert!(r.stderr.contains("instance/nope"), "{}", r.stderr);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn full_first_boot() {
    let (root, fakes, imds) = setup("gcp-boot", Some(SCRIPT));
    let log = first_boot_ok(&Tc::against(&root, &fakes, &imds));
    let want = support::Booted {
        cloud: "gcp",
        fqdn: FQDN,
        keys: &format!("{ALICE}\n{BOB}\n"),
        script: SCRIPT,
        output: "hello from gcp",
    };
    support::assert_booted(&root, &log, &want);
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn block_project_ssh_keys() {
    let (root, fakes, imds) = setup("gcp-block", None);
    let t = Tc::against(&root, &fakes, &imds);
    for (value, want) in [
        (Some("true"), format!("{BOB}\n")),
        (Some("TRUE\n"), format!("{BOB}\n")),
        (Some("false"), format!("{ALICE}\n{BOB}\n")),
        (None, format!("{ALICE}\n{BOB}\n")),
    ] {
        match value {
            Some(v) => imds.set("instance/attributes/block-project-ssh-keys", v),
            None => imds.remove("instance/attributes/block-project-ssh-keys"),
        };
        assert_eq!(t.imds(&["@ssh-keys"]).ok().stdout, want, "{value:?}");
    }

    imds.set("instance/attributes/block-project-ssh-keys", "true");
    t.run(&["main"]).ok().has("set_ssh_keys: done");
    assert_eq!(
        root.read("home/alpine/.ssh/authorized_keys"),
        format!("{BOB}\n")
    );
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn missing_attributes_are_not_errors() {
    let (root, fakes, imds) = setup("gcp-missing", None);
    let t = Tc::against(&root, &fakes, &imds);

    imds.remove("project/attributes/ssh-keys");
    assert_eq!(t.imds(&["@ssh-keys"]).ok().stdout, format!("{BOB}\n"));
    imds.gcp_instance(None)
        .remove("instance/attributes/ssh-keys");
    assert_eq!(t.imds(&["@ssh-keys"]).ok().stdout, format!("{ALICE}\n"));

    imds.remove("project/attributes/ssh-keys");
    let log = first_boot_ok(&t);
    assert!(log.contains("set_ssh_keys: no ssh key found"), "{log}");
    assert!(log.contains("missing_userdata: done"), "{log}");
    assert!(!root.exists("home/alpine/.ssh"));
    assert!(!root.exists("var/lib/cloud/user-data"));
    assert_eq!(imds.rejected(), 0);
}

#[test]
fn unmarked_answers_are_not_trusted() {
    let root = gce_root("gcp-lookalike");
    let fakes = Fakes::new(support::DEFAULT_FAKES);
    let imds = MockImds::start(Flavor::GcpLookalike);
    imds.gcp_instance(Some(SCRIPT));
    let t = Tc::against(&root, &fakes, &imds);

    let r = t.imds(&["@hostname"]);
    r.failed();
    assert!(
        r.stderr.contains("lacks 'Metadata-Flavor: Google'") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");

    t.run(&["early"])
        .failed()
        .has("save_userdata: failed")
        .has("lacks 'Metadata-Flavor: Google'");
    assert!(!root.exists("var/lib/cloud/user-data"));
}

#[test]
fn autodetect_by_product_name() {
    let root = gce_root("gcp-detect");
    assert_eq!(Tc::new(&root).run(&["autodetect"]).ok().stdout, "gcp\n");
}
