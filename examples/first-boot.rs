//! A whole simulated first boot: starts the built-in mock IMDS (AWS IMDSv2)
//! on loopback, lays out a scratch Alpine root, runs the four phases
//! in-process against it, and prints what changed and how long each took.
//!
//! `cargo run --example first-boot` (add `-- --keep` to keep the scratch root).
//! External commands (sfdisk, ip, …) are recording fakes, so nothing on this
//! machine is touched.

#[path = "../tests/support/fixture.rs"]
mod fixture;
// Shared with the tests, which use the parts an example does not.
#[allow(dead_code)]
#[path = "../tests/support/mock_imds.rs"]
mod mock_imds;

use fixture::{DEFAULT_FAKES, FakeRoot, Fakes};
use mock_imds::{Flavor, MockImds};
use std::collections::HashMap;
use std::time::Instant;
use tiny_cloud::settings::{Phase, Settings};

const USERDATA: &[u8] =
    b"#!/bin/sh\necho \"hello from user-data on $(hostname 2>/dev/null || echo this host)\"\n";

fn main() {
    let keep = std::env::args().any(|a| a == "--keep");
    let fakes = Fakes::new(DEFAULT_FAKES);
    // SAFETY: set before any other thread exists (the mock starts below).
    unsafe { std::env::set_var("PATH", fakes.path_env()) };

    let imds = MockImds::start(Flavor::Aws);
    imds.aws_instance(Some(USERDATA));
    let root = FakeRoot::alpine("first-boot");
    root.aws_dmi();
    let before = root.snapshot();

    println!(
        "tiny-cloud {} — simulated first boot",
        env!("CARGO_PKG_VERSION")
    );
    println!("  root: {}", root.dir.display());
    println!(
        "  mock IMDS (AWS IMDSv2): http://{}/latest/\n",
        imds.endpoint()
    );

    let env: HashMap<String, String> = [
        ("ROOT", root.dir.to_string_lossy().into_owned()),
        ("IMDS_ENDPOINT", imds.endpoint()),
        ("TINY_CLOUD_LINK_WAIT_MAX", "0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let mut timings = Vec::new();
    for phase in Phase::ALL {
        println!("== phase {}", phase.name());
        let start = Instant::now();
        let result = Settings::load(&env).and_then(|s| tiny_cloud::phase::run(s, phase));
        timings.push((phase.name(), start.elapsed()));
        if let Err(e) = result {
            eprintln!("first boot failed: {e}");
            std::process::exit(1);
        }
    }

    println!("\n== commands run (recording fakes)");
    for call in fakes.calls() {
        println!("  {call}");
    }
    println!("\n== files changed under the root");
    let old: HashMap<_, _> = before.into_iter().collect();
    for (path, content) in root.snapshot() {
        let state = match old.get(&path) {
            None => "new",
            Some(c) if *c != content => "changed",
            _ => continue,
        };
        let text = String::from_utf8_lossy(&content);
        let first = text.lines().next().unwrap_or("");
        println!("  {state:7} /{path}  {first}");
    }
    println!(
        "\n== IMDS: {} token request(s), {} request(s) in all",
        imds.token_puts(),
        imds.requests().len()
    );
    println!("== time per phase (in-process, fakes included)");
    for (name, took) in &timings {
        println!("  {name:6} {:>8.2} ms", took.as_secs_f64() * 1000.0);
    }
    if keep {
        println!("\nkept {}", root.dir.display());
        std::mem::forget(root);
    }
}
