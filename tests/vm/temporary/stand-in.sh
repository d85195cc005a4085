#!/bin/sh
# TEMPORARY stand-in for the tiny-cloud binary, used only to develop the VM
# image and runner before the real binary can do a first boot. It does the
# bare minimum the runner checks (network file, sshd link, user + key,
# hostname, user-data script, marker) in the crudest way, and is NOT a model
# of the real program. Remove once main's binary boots a VM.
#   build: TINY_CLOUD_BIN=tests/vm/temporary/stand-in.sh tests/vm/build-image.sh
set -eu
R=${ROOT:-}
var=$R/var/lib/cloud
log() { echo "$*" >&2; }

cloud() {
	if grep -q 'ds=nocloud' "$R/proc/cmdline" 2>/dev/null; then echo nocloud
	elif [ "$(cat "$R/sys/class/dmi/id/sys_vendor" 2>/dev/null)" = "Amazon EC2" ]; then echo aws
	else echo unknown; fi
}

# AWS IMDSv2 with busybox wget.
imds() {
	tok=$(busybox wget -q -O - --method=PUT --header 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token 2>/dev/null) ||
		tok=$(busybox wget -q -O - --header 'X-aws-ec2-metadata-token-ttl-seconds: 60' --post-data= http://169.254.169.254/latest/api/token)
	busybox wget -q -O - --header "X-aws-ec2-metadata-token: $tok" "http://169.254.169.254/latest/$1"
}

cidata() {
	mkdir -p /run/cidata
	mountpoint -q /run/cidata || mount -o ro -t iso9660 LABEL=cidata /run/cidata
}

case ${1:-} in
--enable)
	rm -f "$R"/etc/runlevels/*/tiny-cloud*
	ln -s /etc/init.d/tiny-cloud-boot "$R/etc/runlevels/boot/"
	for p in early main final; do ln -s "/etc/init.d/tiny-cloud-$p" "$R/etc/runlevels/default/"; done
	exit 0 ;;
boot | early | main | final) ;;
*) echo "usage: stand-in {--enable|boot|early|main|final}" >&2; exit 2 ;;
esac

if [ -e "$var/.bootstrap-complete" ]; then
	log "already bootstrapped"
	exit 0
fi
c=$(cloud)
log "stand-in $1 phase, cloud $c"
case $1 in
boot)
	dev=$(awk '$2 == "/" { print $1 }' /proc/mounts)
	sfdisk -q --no-reread -N 1 /dev/vda <<-EOF || true
		, +
	EOF
	partx -u /dev/vda || true
	resize2fs "$dev" || true
	[ -f /etc/network/interfaces ] || printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0\n\tuse dhcp\n' >/etc/network/interfaces
	ln -sf /etc/init.d/sshd /etc/runlevels/default/sshd ;;
early)
	mkdir -p "$var"
	if [ "$c" = aws ]; then imds user-data | gunzip >"$var/user-data"; fi
	if [ "$c" = nocloud ]; then cidata; cp /run/cidata/user-data "$var/user-data"; fi ;;
main)
	grep -q '^alpine:' /etc/passwd || useradd -m -s /bin/sh -G wheel alpine
	[ ! -d /etc/sudoers.d ] || echo '%wheel ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/wheel
	sed -i 's/^alpine:[^:]*:/alpine:*:/' /etc/shadow
	if [ "$c" = aws ]; then
		name=$(imds meta-data/hostname)
		key=$(imds meta-data/public-keys/0/openssh-key)
	else
		cidata
		name=$(awk '/^local-hostname:/ { print $2 }' /run/cidata/meta-data)
		key=$(grep -o 'ssh-[a-z0-9]* [A-Za-z0-9+/=]*' /run/cidata/meta-data | head -n 1)
	fi
	echo "${name%%.*}" >/etc/hostname
	hostname "${name%%.*}"
	mkdir -p /home/alpine/.ssh
	echo "$key" >/home/alpine/.ssh/authorized_keys
	chown -R alpine:alpine /home/alpine/.ssh
	chmod 700 /home/alpine/.ssh ;;
final)
	if head -n 1 "$var/user-data" 2>/dev/null | grep -q '^#!'; then
		chmod +x "$var/user-data"
		"$var/user-data" >/var/log/user-data.log 2>&1
	fi
	touch "$var/.bootstrap-complete" ;;
esac
log "stand-in $1 phase: done"
