# Recipes for tiny-cloud. `just --list` shows them.

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

# Fail if the size table is stale or a binary is over budget (CI).
sizes-check:
    packaging/sizes.sh --check
