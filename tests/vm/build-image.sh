#!/bin/sh
# Build the bootable test image for the real-VM first-boot test:
#   target/vm/vmlinuz, target/vm/initramfs.gz  (direct -kernel/-initrd boot)
#   target/vm/disk.raw                         (3 GiB, one 1 GiB ext4 root partition)
# Everything comes from Debian packages (apt mirror only) plus our own build
# of tiny-cloud. The slow parts (kernel package, debootstrap) are cached under
# target/vm/ so that a re-run only rebuilds the disk around a new binary.
#
# Needs root (debootstrap, chroot, file ownership in the image) and the host
# tools listed in HOST_TOOLS (`just vm-deps` installs them on Debian 12).
#
# Environment:
#   TINY_CLOUD_BIN   binary to install (default target/release/tiny-cloud)
#   VM_OUT           output/cache dir (default target/vm)
#   DEBIAN_MIRROR    debootstrap mirror (default http://deb.debian.org/debian)
#   DEBIAN_SUITE     default bookworm (must match the host's apt for the kernel)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VM_OUT:-$top/target/vm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
bin=${TINY_CLOUD_BIN:-$top/target/release/tiny-cloud}

# Disk geometry: the root partition is deliberately much smaller than the
# disk so that expand_root has real work to do on first boot.
disk_size=3G
root_size_mib=1024

# Packages of the guest root. openrc is installed in a second step (see
# build_rootfs). udhcpc + ifupdown-ng give Alpine's /etc/network/interfaces
# dialect (`use dhcp`), which is what set_default_interfaces writes.
packages="sysvinit-core,openssh-server,e2fsprogs,fdisk,util-linux,iproute2,busybox,udhcpc,ifupdown-ng,passwd,gzip,sudo"

# Modules the initramfs loads (with their dependencies): virtio disk and
# network, the root fs, and what tiny-cloud needs to read a cidata volume.
modules="virtio_pci virtio_blk virtio_net virtio_rng ext4 crc32c_generic isofs vfat nls_cp437 nls_iso8859-1 nls_utf8"

HOST_TOOLS="apt-get apt-cache dpkg-deb debootstrap chroot depmod modprobe cpio gzip sfdisk mke2fs tar sha256sum"

log() { echo "build-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, file owners in the image)"
for t in $HOST_TOOLS; do
	command -v "$t" >/dev/null 2>&1 || die "missing host tool '$t' (run: just vm-deps)"
done
[ -x "$top/packaging/install.sh" ] || die "no packaging/install.sh"
[ -x "$bin" ] || die "no tiny-cloud binary at $bin (run: cargo build --release, or set TINY_CLOUD_BIN)"

mkdir -p "$out"

# Refuse to delete a tree that still has something mounted inside (a crashed
# debootstrap can leave proc/sys mounted in its target).
safe_rm() {
	if [ -e "$1" ]; then
		if grep -q " $1/" /proc/mounts; then
			die "$1 still has mounts inside; unmount them first"
		fi
		rm -rf "$1"
	fi
}

# --- kernel + modules -------------------------------------------------------
# The real package behind the linux-image-amd64 metapackage, as the host's
# apt sees it (same mirror, same suite).
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"
kver=${kpkg#linux-image-}
kdir=$out/kernel-$kver

fetch_kernel() {
	if [ -f "$kdir/.done" ]; then
		log "kernel $kver: cached"
		return
	fi
	log "kernel $kver: downloading $kpkg and busybox-static"
	safe_rm "$kdir"
	mkdir -p "$kdir/debs"
	# apt-get download runs as _apt when it can; a world-writable
	# directory avoids the 'unsandboxed' warning.
	chmod 0777 "$kdir/debs"
	(cd "$kdir/debs" && apt-get download -q "$kpkg" busybox-static)
	dpkg-deb -x "$kdir"/debs/linux-image-*.deb "$kdir/x"
	dpkg-deb -x "$kdir"/debs/busybox-static_*.deb "$kdir/bb"
	# The package ships no modules.dep; make one so modprobe can order deps.
	depmod -b "$kdir/x" "$kver"
	rm -rf "$kdir/debs"
	touch "$kdir/.done"
}

build_initramfs() {
	stamp=$( (cat "$here/initramfs-init" && echo "$modules") | sha256sum | cut -c1-16)
	if [ -f "$out/initramfs.gz" ] && [ "$(cat "$out/initramfs.stamp" 2>/dev/null)" = "$kver-$stamp" ]; then
		log "initramfs: cached"
		return
	fi
	log "initramfs: building"
	staging=$out/initramfs.d
	safe_rm "$staging"
	mkdir -p "$staging/bin" "$staging/lib/modules"
	cp "$kdir/bb/bin/busybox" "$staging/bin/busybox"
	install -m 0755 "$here/initramfs-init" "$staging/init"
	mdir=$kdir/x/lib/modules/$kver
	: >"$staging/lib/modules/modules.load"
	for m in $modules; do
		# --show-depends prints "insmod PATH" lines in load order,
		# including soft dependencies; builtins print "builtin NAME".
		modprobe -d "$kdir/x" -S "$kver" --show-depends "$m" | while read -r kind path _; do
			[ "$kind" = insmod ] || continue
			rel=${path#"$mdir"/}
			grep -qxF "$rel" "$staging/lib/modules/modules.load" && continue
			mkdir -p "$staging/lib/modules/$(dirname "$rel")"
			cp "$path" "$staging/lib/modules/$rel"
			echo "$rel" >>"$staging/lib/modules/modules.load"
		done
	done
	(cd "$staging" && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initramfs.gz.tmp"
	mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
	cp "$kdir/x/boot/vmlinuz-$kver" "$out/vmlinuz"
	echo "$kver-$stamp" >"$out/initramfs.stamp"
	rm -rf "$staging"
}

# --- root filesystem (cached as a tarball) ----------------------------------
rootfs_key=$(printf '%s\n' "$suite" "$mirror" "$packages" "$(sed -n '/^build_rootfs()/,/^}/p' "$0")" | sha256sum | cut -c1-16)
rootfs_tar=$out/rootfs-$rootfs_key.tar

build_rootfs() {
	if [ -f "$rootfs_tar" ]; then
		log "rootfs: cached ($rootfs_tar)"
		return
	fi
	log "rootfs: debootstrap $suite from $mirror"
	r=$out/rootfs.d
	safe_rm "$r"
	debootstrap --variant=minbase --include="$packages" "$suite" "$r" "$mirror" >"$out/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$out/debootstrap.log" >&2; die "debootstrap failed"; }
	# debootstrap's resolver picks sysv-rc for initscripts and then trips
	# over openrc's Conflicts; installing openrc afterwards with apt
	# replaces sysv-rc cleanly. No service may start inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openrc >>"$out/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$out/debootstrap.log" >&2; die "installing openrc failed"; }
	# Alpine images have a wheel group; create_default_user adds the user to it.
	chroot "$r" groupadd --system wheel
	rm -f "$r/usr/sbin/policy-rc.d"
	chroot "$r" apt-get clean
	# Size: no docs, man pages, locales or apt lists in a test image.
	rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
		"$r"/usr/share/locale/* "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin \
		"$r"/var/log/*.log "$r/debootstrap"
	# Host keys are made on the guest's first boot (sshd start_pre), as on
	# a real cloud image; a baked-in key would be shared by every VM.
	rm -f "$r"/etc/ssh/ssh_host_*
	tar -C "$r" -cf "$rootfs_tar.tmp" .
	mv "$rootfs_tar.tmp" "$rootfs_tar"
	rm -rf "$r"
	# Older cached root filesystems are dead weight now.
	for old in "$out"/rootfs-*.tar; do
		[ "$old" = "$rootfs_tar" ] || rm -f "$old"
	done
}

# --- image: rootfs + our build + image plumbing -----------------------------
build_disk() {
	log "disk: assembling root tree"
	r=$out/image.d
	safe_rm "$r"
	mkdir -p "$r"
	tar -C "$r" -xf "$rootfs_tar"

	# Init: sysvinit runs OpenRC through our inittab (Alpine's order). Only
	# native OpenRC services stay: Debian's LSB scripts (initscripts,
	# sudo, ssh) are dropped, because OpenRC parses every script in
	# /etc/init.d on each boot and runs the sysinit chain, which under TCG
	# cost about two minutes per boot. guest/ has small replacements.
	install -m 0644 "$here/guest/inittab" "$r/etc/inittab"
	for f in "$r"/etc/init.d/*; do
		case ${f##*/} in
		functions.sh) ;; # OpenRC's own helper library
		*) rm -f "$f" ;;
		esac
	done
	find "$r/etc/runlevels" -mindepth 2 -delete
	for svc in kernfs root hostname networking sshd; do
		install -m 0755 "$here/guest/$svc.openrc" "$r/etc/init.d/$svc"
	done
	ln -s /etc/init.d/kernfs "$r/etc/runlevels/sysinit/kernfs"
	# Alpine keeps these in the boot runlevel. sshd is NOT enabled: only
	# tiny-cloud's enable_sshd may do that, which the test proves.
	for svc in root hostname networking; do
		ln -s "/etc/init.d/$svc" "$r/etc/runlevels/boot/$svc"
	done
	ln -sfn ../proc/self/mounts "$r/etc/mtab"

	cat >"$r/etc/fstab" <<-'EOT'
		/dev/vda1	/	ext4	defaults	0	1
	EOT
	# Like a fresh Alpine image: no real hostname until metadata gives one.
	# (debootstrap copies the build host's files, mode included; these
	# get Alpine's 0644, which tiny-cloud then keeps when it replaces them.)
	echo localhost >"$r/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$r/etc/hosts"
	chmod 0644 "$r/etc/hostname" "$r/etc/hosts"
	# Alpine images ship an apk repository list; without one, cloud-config
	# user-data makes tiny-cloud run setup-apkrepos (userdata_apk_repositories),
	# an Alpine tool this Debian-made image does not have. Never used here.
	mkdir -p "$r/etc/apk"
	printf '%s\n' https://dl-cdn.alpinelinux.org/alpine/v3.20/main \
		https://dl-cdn.alpinelinux.org/alpine/v3.20/community >"$r/etc/apk/repositories"
	# A fresh image has no interfaces file: set_default_interfaces writes it.
	rm -f "$r/etc/network/interfaces"

	install_tiny_cloud "$r"

	log "disk: writing $out/disk.raw ($disk_size, root partition ${root_size_mib} MiB)"
	rm -f "$out/disk.raw"
	truncate -s "$disk_size" "$out/disk.raw"
	# One DOS partition at 1 MiB; the rest of the disk stays free for
	# expand_root to claim on first boot.
	printf 'label: dos\nstart=2048, size=%s, type=83, bootable\n' "$((root_size_mib * 2048))" |
		sfdisk -q "$out/disk.raw"
	# The file system is made straight from the tree at the partition's
	# offset: no loop device, no mount.
	mke2fs -q -F -t ext4 -L root -d "$r" -E offset=1048576 "$out/disk.raw" "${root_size_mib}M"
	rm -rf "$r"
}

install_tiny_cloud() {
	r=$1
	# The same installer the APK and `just install` use: the image gets
	# exactly the packaged layout (/sbin/tiny-cloud, OpenRC scripts, conf).
	"$top/packaging/install.sh" "$r" "$bin" openrc
	# What an image builder does: enable the phases in the image's runlevels.
	ROOT=$r "$r/sbin/tiny-cloud" --enable
}

fetch_kernel
build_initramfs
build_rootfs
build_disk
log "done: $out/vmlinuz $out/initramfs.gz $out/disk.raw"
