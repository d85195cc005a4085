//! Benchmark of the real binary: a full first boot (four phases) against the
//! mock IMDS, and a no-op phase after it, over many runs. The root is laid
//! out so that no external command runs (tmpfs root, no ethernet), so the
//! figures are tiny-cloud's own. Peak RSS comes from `/usr/bin/time -f %M`
//! when that is installed.
//!
//! `just bench` or `cargo run --release --example bench -- target/release/tiny-cloud [RUNS]`

#[path = "../tests/support/fixture.rs"]
mod fixture;
// Shared with the tests, which use the parts an example does not.
#[allow(dead_code)]
#[path = "../tests/support/mock_imds.rs"]
mod mock_imds;

use fixture::FakeRoot;
use mock_imds::{Flavor, MockImds};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PHASES: [&str; 4] = ["boot", "early", "main", "final"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(bin) = args.get(1) else {
        eprintln!("usage: bench PATH-TO-tiny-cloud [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(50);
    let imds = MockImds::start(Flavor::Aws);
    imds.aws_instance(Some(b"#cloud-config-not-handled\n"));

    let mut full = Vec::new();
    let mut per_phase = vec![Vec::new(); 4];
    let mut noop = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..runs {
        let root = bench_root();
        let mut total = Duration::ZERO;
        for (i, phase) in PHASES.iter().enumerate() {
            let took = run(bin, &root, &imds, phase, None);
            per_phase[i].push(took);
            total += took;
        }
        full.push(total);
        noop.push(run(bin, &root, &imds, "main", None));
        // What spawning any process costs here, to read the figures against.
        let start = Instant::now();
        let _ = Command::new("/bin/true").status();
        baseline.push(start.elapsed());
    }
    println!("tiny-cloud bench: {runs} runs of {bin}");
    report("four phases", &mut full);
    for (i, phase) in PHASES.iter().enumerate() {
        report(&format!("  {phase}"), &mut per_phase[i]);
    }
    report("no-op phase", &mut noop);
    report("/bin/true", &mut baseline);

    if Path::new("/usr/bin/time").exists() {
        let root = bench_root();
        let mut peak = 0;
        for phase in PHASES {
            let mut rss = String::new();
            run(bin, &root, &imds, phase, Some(&mut rss));
            let kib: u64 = rss
                .trim()
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            println!("peak RSS {phase:6} {kib:>6} KiB");
            peak = peak.max(kib);
        }
        println!("peak RSS (max)  {peak:>6} KiB");
    } else {
        println!("peak RSS: /usr/bin/time not installed (apt-get install time)");
    }
}

fn bench_root() -> FakeRoot {
    let root = FakeRoot::alpine("bench");
    root.aws_dmi();
    root.write("proc/mounts", "tmpfs / tmpfs rw 0 0\n");
    let _ = std::fs::remove_dir_all(root.path("sys/class/net"));
    root.write(
        "etc/network/interfaces",
        "auto lo\niface lo inet loopback\n",
    );
    root
}

fn run(
    bin: &str,
    root: &FakeRoot,
    imds: &MockImds,
    phase: &str,
    rss: Option<&mut String>,
) -> Duration {
    let mut cmd = if rss.is_some() {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", bin, phase]);
        c
    } else {
        let mut c = Command::new(bin);
        c.arg(phase);
        c
    };
    cmd.env_clear()
        .env("ROOT", &root.dir)
        .env("IMDS_ENDPOINT", imds.endpoint())
        .env("PATH", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().expect("run tiny-cloud");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        eprintln!("phase {phase} failed:\n{stderr}");
        std::process::exit(1);
    }
    if let Some(r) = rss {
        *r = stderr;
    }
    took
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    println!(
        "{name:14} median {:>7.3} ms   min {:>7.3} ms   max {:>7.3} ms",
        ms(median),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}
