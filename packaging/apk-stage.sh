#!/bin/sh
# Lay out the file tree of every Alpine subpackage, exactly as the APKBUILD
# packages it: the APKBUILD's package functions call this script with --one,
# so what is staged here for inspection and tests is what ships.
#
# usage: apk-stage.sh OUTDIR              stage all into OUTDIR/<subpackage>/
#        apk-stage.sh --one NAME DESTDIR  stage one subpackage into DESTDIR
#        apk-stage.sh --list              print the subpackage names
#
# Cloud binaries come from BIN_DIR/tiny-cloud-<cloud>. Without BIN_DIR the
# full staging builds them first (build-clouds.sh); --one requires it.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)

clouds=$("$here/build-clouds.sh" --list)

subpackages() {
	echo tiny-cloud
	echo tiny-cloud-doc
	echo tiny-cloud-openrc
	for cloud in $clouds; do
		echo "tiny-cloud-$cloud"
	done
}

# One subpackage into DESTDIR. Every cloud package carries its own binary
# (they are alternatives: one of them owns /sbin/tiny-cloud); the common
# package carries the settings file, -doc the man pages (gzipped, as abuild
# would), -openrc the init scripts. Alpine has no systemd, so the units are
# not packaged here.
stage_one() { # NAME DESTDIR
	name=$1
	dest=$2
	case $name in
	tiny-cloud) "$here/install.sh" --only conf "$dest" - ;;
	tiny-cloud-doc) MAN_GZIP=1 "$here/install.sh" --only man "$dest" - ;;
	tiny-cloud-openrc) "$here/install.sh" --only openrc "$dest" - ;;
	tiny-cloud-*)
		cloud=${name#tiny-cloud-}
		echo "$clouds" | grep -qx "$cloud" || {
			echo "apk-stage.sh: unknown subpackage '$name'" >&2
			exit 1
		}
		[ -n "${BIN_DIR:-}" ] || {
			echo "apk-stage.sh: BIN_DIR must hold tiny-cloud-$cloud" >&2
			exit 1
		}
		"$here/install.sh" --only bin "$dest" "$BIN_DIR/tiny-cloud-$cloud"
		;;
	*)
		echo "apk-stage.sh: unknown subpackage '$name'" >&2
		exit 1
		;;
	esac
}

case ${1:-} in
--list)
	subpackages
	;;
--one)
	[ $# -eq 3 ] || {
		echo "usage: $0 --one NAME DESTDIR" >&2
		exit 2
	}
	stage_one "$2" "$3"
	;;
"" | -*)
	echo "usage: $0 OUTDIR | --one NAME DESTDIR | --list" >&2
	exit 2
	;;
*)
	[ $# -eq 1 ] || {
		echo "usage: $0 OUTDIR" >&2
		exit 2
	}
	outdir=$1
	if [ -z "${BIN_DIR:-}" ]; then
		BIN_DIR=$(cd "$here/.." && pwd)/target/packaging/bin
		"$here/build-clouds.sh" "$BIN_DIR"
	fi
	export BIN_DIR
	mkdir -p "$outdir"
	for name in $(subpackages); do
		# Fresh each time, so a file dropped from a package does not linger.
		rm -rf "${outdir:?}/$name"
		mkdir -p "$outdir/$name"
		stage_one "$name" "$outdir/$name"
	done
	echo "apk-stage.sh: staged $(subpackages | tr '\n' ' ')in $outdir" >&2
	;;
esac
