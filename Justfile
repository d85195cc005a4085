# Recipes for tiny-cloud. `just --list` shows them.

import "tests/vm/vm.just"

# ---------------------------------------------------------------------------
# Packaging (packaging/): install trees, Alpine subpackage staging, sizes.
# The shell scripts do the work so the APKBUILD can use them without just.
# ---------------------------------------------------------------------------

# CLOUD: one cloud (aws, azure, gcp, oci, nocloud) or empty for all.
# INIT: openrc, systemd, both or none.
# Build and install into DESTDIR (CLOUD empty = all clouds).
install DESTDIR CLOUD="" INIT="openrc":
    packaging/build-clouds.sh target/packaging/bin {{ if CLOUD == "" { "all" } else { CLOUD } }}
    packaging/install.sh "{{DESTDIR}}" target/packaging/bin/tiny-cloud-{{ if CLOUD == "" { "all" } else { CLOUD } }} "{{INIT}}"

# Set BIN_DIR to use pre-built tiny-cloud-<cloud> binaries.
# Lay out each Alpine subpackage's tree under OUTDIR, as the APKBUILD does.
apk-stage OUTDIR="target/apk-stage":
    packaging/apk-stage.sh "{{OUTDIR}}"

# Rebuild every feature set, rewrite the size table in features.md.
sizes:
    packaging/sizes.sh

# Fail if the size table is stale (CI): a size more than 4 KiB off the
# table, so a one-line fix does not need a new table but a new feature does.
# Fails too when a binary is over its budget.
sizes-check:
    SIZES_TOLERANCE=4096 packaging/sizes.sh --check

# ---------------------------------------------------------------------------
# Development: the README's two commands, checks, benchmark.
# ---------------------------------------------------------------------------

# A whole simulated first boot against the built-in mock IMDS.
first-boot:
    cargo run --example first-boot

# The test suite (the README's test command).
test:
    cargo test

# Every single-cloud feature set and the default one: clippy (warnings
# denied) and tests, so a feature-gating mistake cannot land.
matrix:
    #!/usr/bin/env bash
    set -euo pipefail
    for set in aws azure gcp oci nocloud; do
        echo "== feature set: $set"
        cargo clippy --all-targets --no-default-features --features "$set" -- -D warnings
        cargo test --no-default-features --features "$set"
    done
    echo "== feature set: default"
    cargo clippy --all-targets -- -D warnings
    cargo test

# Formatting and lints for the default build.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Times a full first boot and a no-op phase of the release binary, on the
# disk (fsync included) and on tmpfs (the program's own cost), with peak RSS.
bench RUNS="50":
    cargo build --release
    @echo "== scratch roots on the disk ($(df --output=source "${TMPDIR:-/tmp}" | tail -1))"
    cargo run --release --example bench -- target/release/tiny-cloud {{RUNS}}
    @echo "== scratch roots on tmpfs (/dev/shm)"
    TMPDIR=/dev/shm cargo run --release --example bench -- target/release/tiny-cloud {{RUNS}}
