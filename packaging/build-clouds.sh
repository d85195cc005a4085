#!/bin/sh
# Build release binaries for single-cloud feature sets (and "all", the
# default set), copying each out as OUTDIR/tiny-cloud-SET. Shared by
# sizes.sh, apk-stage.sh, `just install` and the APKBUILD.
#
# usage: build-clouds.sh OUTDIR [SET...]   (SET: a cloud name or "all";
#                                           default: every cloud)
#        build-clouds.sh --list            (print the clouds, one a line)
#
# CARGO_FLAGS is added to every cargo build (the APKBUILD passes --frozen).
# PACKAGING_TARGET_DIR (default target/packaging) is one target dir for all
# sets: only the tiny-cloud crate differs between them, so the dependencies
# are compiled once, and the developer's target/release is left alone.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
top=$(dirname "$here")

# The cloud list comes from Cargo.toml's default feature set, so a cloud
# added there is built, sized and packaged without editing these scripts.
list_clouds() {
	sed -n 's/^default[[:space:]]*=[[:space:]]*\[\(.*\)\].*/\1/p' "$top/Cargo.toml" |
		tr -d '",' | tr -s ' \t' '\n' | sed '/^$/d'
}

if [ "${1:-}" = --list ]; then
	list_clouds
	exit 0
fi
[ $# -ge 1 ] || {
	echo "usage: $0 OUTDIR [SET...] | --list" >&2
	exit 2
}
outdir=$1
shift
# Cloud names are plain words; splitting them is the point.
# shellcheck disable=SC2046
[ $# -gt 0 ] || set -- $(list_clouds)

target_dir=${PACKAGING_TARGET_DIR:-$top/target/packaging}
mkdir -p "$outdir"

for set in "$@"; do
	if [ "$set" = all ]; then
		features=
		want=$(list_clouds | tr '\n' ' ' | sed 's/ $//')
	else
		list_clouds | grep -qx "$set" || {
			echo "build-clouds.sh: unknown cloud '$set' (not in Cargo.toml's default features)" >&2
			exit 1
		}
		features="--no-default-features --features $set"
		want=$set
	fi
	echo "build-clouds.sh: building $set" >&2
	# $CARGO_FLAGS and $features are word lists on purpose.
	# shellcheck disable=SC2086
	(cd "$top" && ${CARGO:-cargo} build --release --quiet ${CARGO_FLAGS:-} $features \
		--target-dir "$target_dir")
	out=$outdir/tiny-cloud-$set
	cp "$target_dir/release/tiny-cloud" "$out"
	chmod 0755 "$out"

	# A feature set that silently compiled in the wrong clouds would ship
	# the wrong package; catch it once the binary can tell (--version).
	line=$("$out" --version 2>/dev/null || true)
	case $line in
	"tiny-cloud "*"(clouds: "*")")
		got=${line##*(clouds: }
		got=${got%)}
		if [ "$got" != "$want" ]; then
			echo "build-clouds.sh: $out has clouds '$got', expected '$want'" >&2
			exit 1
		fi
		;;
	*) echo "build-clouds.sh: $out has no --version yet; clouds not checked" >&2 ;;
	esac
done
