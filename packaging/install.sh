#!/bin/sh
# Install tiny-cloud into a staging root (DESTDIR), the way a distribution
# package lays it out. Used by `just install`, by apk-stage.sh and so by the
# APKBUILD, so that every way of installing produces the same tree.
#
# usage: install.sh [--only PART[,PART...]] DESTDIR BINARY [openrc|systemd|both|none]
#
# PARTS: bin (the binary and the imds link), conf, man, openrc, systemd.
# Without --only: bin, conf, man and the init parts the last argument names
# (default openrc, as on Alpine). BINARY may be "-" when bin is not wanted.
# MAN_GZIP=1 gzips the man pages (abuild compresses them itself, so the
# default is plain).
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)

usage() {
	echo "usage: $0 [--only PART[,PART...]] DESTDIR BINARY [openrc|systemd|both|none]" >&2
	exit 2
}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

only=
if [ "${1:-}" = --only ]; then
	[ $# -ge 2 ] || usage
	only=$2
	shift 2
fi
case $# in 2 | 3) ;; *) usage ;; esac
destdir=$1
binary=$2
init=${3:-openrc}

case $init in
openrc) init_parts=openrc ;;
systemd) init_parts=systemd ;;
both) init_parts="openrc systemd" ;;
none) init_parts= ;;
*) usage ;;
esac

if [ -n "$only" ]; then
	parts=$(echo "$only" | tr ',' ' ')
else
	parts="bin conf man $init_parts"
fi
for part in $parts; do
	case $part in
	bin | conf | man | openrc | systemd) ;;
	*) die "unknown part '$part' (bin conf man openrc systemd)" ;;
	esac
done

[ -n "$destdir" ] || die "empty DESTDIR"

# install(1) -D is not in every busybox build, so directories are made first.
put() { # MODE SRC DEST
	mkdir -p "$(dirname "$3")"
	cp "$2" "$3"
	chmod "$1" "$3"
}

install_bin() {
	[ "$binary" != - ] || die "part 'bin' needs a BINARY"
	[ -f "$binary" ] || die "no such binary: $binary"
	put 0755 "$binary" "$destdir/sbin/tiny-cloud"
	# Relative, so the link stays right inside DESTDIR and in an image
	# mounted elsewhere. The client picks its role from argv[0].
	mkdir -p "$destdir/bin"
	ln -sfn ../sbin/tiny-cloud "$destdir/bin/imds"
}

install_conf() {
	conf=$destdir/etc/tiny-cloud.conf
	# Installing over a live system must not throw away local settings.
	if [ -f "$conf" ] && ! cmp -s "$here/tiny-cloud.conf" "$conf"; then
		echo "install.sh: keeping changed $conf; new one is $conf.new" >&2
		conf=$conf.new
	fi
	put 0644 "$here/tiny-cloud.conf" "$conf"
}

install_man() {
	for page in "$here"/man/*.[0-9]; do
		name=$(basename "$page")
		section=${name##*.}
		dest=$destdir/usr/share/man/man$section/$name
		put 0644 "$page" "$dest"
		if [ "${MAN_GZIP:-0}" = 1 ]; then
			# -n keeps the name and time out of the header: reproducible.
			gzip -9nf "$dest"
		fi
	done
}

install_openrc() {
	for phase in boot early main final; do
		put 0755 "$here/openrc/tiny-cloud-$phase" "$destdir/etc/init.d/tiny-cloud-$phase"
	done
}

install_systemd() {
	for phase in boot early main final; do
		put 0644 "$here/systemd/tiny-cloud-$phase.service" \
			"$destdir/usr/lib/systemd/system/tiny-cloud-$phase.service"
	done
}

for part in $parts; do
	"install_$part"
done
