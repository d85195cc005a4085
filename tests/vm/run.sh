#!/bin/sh
# Real first boot: boot the image from build-image.sh under QEMU as CLOUD
# (aws or nocloud), log in over SSH with the key the metadata gave, check
# what tiny-cloud did from inside, then boot the same disk a second time and
# check that nothing runs again.
#
# usage: tests/vm/run.sh aws|nocloud
# Environment:
#   VM_OUT          image dir from build-image.sh (default target/vm)
#   VM_ACCEL        auto (default: kvm when /dev/kvm opens, else tcg), kvm, tcg
#   VM_BOOT_TIMEOUT seconds from QEMU start to a working SSH login
#                   (default 120 with KVM, 420 with TCG)
#   VM_MEM          guest memory in MiB (default 512)
#
# It fails (exit 1), never skips, when it cannot run: a missing tool or image
# is an error. On any failure the serial console logs are printed. The VM
# and everything it started are killed on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VM_OUT:-$top/target/vm}
cloud=${1:-}
mem=${VM_MEM:-512}

case $cloud in
aws | nocloud) ;;
*)
	echo "usage: $0 aws|nocloud" >&2
	exit 2
	;;
esac

work=$out/run-$cloud
qemu_pid=
failed=1
t0=$(date +%s)

log() { echo "vm-test[$cloud] +$(($(date +%s) - t0))s: $*" >&2; }

print_serial() {
	for f in "$work"/serial-*.log; do
		[ -f "$f" ] || continue
		echo "----- $f -----" >&2
		# Strip the terminal's carriage returns and escape sequences.
		tr -d '\r' <"$f" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >&2
		echo "----- end of $f -----" >&2
	done
}

close_ssh() { # the multiplexing masters (see vm_ssh) are ours too
	for sock in "$work"/ssh-*; do
		[ -S "$sock" ] || continue
		ssh -o "ControlPath=$sock" -O exit dummy >/dev/null 2>&1 || true
	done
}

stop_vm() {
	close_ssh
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null || true
		# Give it a moment, then make sure.
		i=0
		while kill -0 "$qemu_pid" 2>/dev/null && [ "$i" -lt 20 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$qemu_pid" 2>/dev/null || true
	fi
	qemu_pid=
}

cleanup() {
	status=$?
	stop_vm
	if [ "$failed" = 1 ]; then
		print_serial
		log "FAILED: $(cat "$work/fail-reason" 2>/dev/null || echo "exit status $status")"
		[ "$status" != 0 ] || status=1
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

die() {
	log "error: $*"
	# Repeated after the serial logs, which can be long. A file, because
	# die may run inside a command substitution's subshell.
	echo "$*" >"$work/fail-reason" 2>/dev/null || true
	exit 1
}

# --- prerequisites: missing ones fail the test ------------------------------
for t in qemu-system-x86_64 qemu-img ssh ssh-keygen gzip python3; do
	command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' (run: just vm-deps)"
done
[ "$cloud" != nocloud ] || command -v genisoimage >/dev/null 2>&1 || die "missing tool 'genisoimage' (run: just vm-deps)"
for f in vmlinuz initramfs.gz disk.raw; do
	[ -f "$out/$f" ] || die "missing $out/$f (run: just vm-image)"
done

# KVM only helps when it works: on some nested-virtualisation hosts
# /dev/kvm opens but the guest hangs or QEMU aborts on an MSR. A short probe
# (the kernel without a root: it panics and QEMU exits at once) decides,
# and is remembered until the host reboots.
kvm_works() {
	probe=$out/kvm-probe
	boot_id=$(cat /proc/sys/kernel/random/boot_id)
	if [ -f "$probe" ] && [ "$(sed -n 1p "$probe")" = "$boot_id" ]; then
		[ "$(sed -n 2p "$probe")" = yes ]
		return
	fi
	[ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null || return 1
	result=no
	qemu-system-x86_64 -enable-kvm -cpu host -m 128 -nographic -monitor none \
		-serial "file:$probe.log" -no-reboot -kernel "$out/vmlinuz" \
		-append "console=ttyS0 panic=-1" </dev/null >"$probe.out" 2>&1 &
	probe_pid=$!
	i=0
	while kill -0 "$probe_pid" 2>/dev/null && [ "$i" -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$probe_pid" 2>/dev/null; then
		kill -9 "$probe_pid" 2>/dev/null || true
	elif grep -q 'Kernel panic' "$probe.log"; then
		result=yes
	fi
	wait "$probe_pid" 2>/dev/null || true
	printf '%s\n%s\n' "$boot_id" "$result" >"$probe"
	[ "$result" = yes ]
}

accel=${VM_ACCEL:-auto}
if [ "$accel" = auto ]; then
	if kvm_works; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) accel_args="-enable-kvm -cpu host" boot_timeout=${VM_BOOT_TIMEOUT:-120} ;;
tcg) accel_args="-accel tcg -cpu max" boot_timeout=${VM_BOOT_TIMEOUT:-420} ;;
*) die "VM_ACCEL must be auto, kvm or tcg" ;;
esac

rm -rf "$work"
mkdir -p "$work"

# --- per-run key, disk and metadata -------------------------------------
ssh-keygen -q -t ed25519 -N '' -C "vm-test-$cloud" -f "$work/key"
pubkey=$(cat "$work/key.pub")
# A copy-on-write layer keeps the built image pristine for the next run;
# both boots of this run share it.
qemu-img create -q -f qcow2 -F raw -b "$out/disk.raw" "$work/disk.qcow2"
disk_bytes=$(qemu-img info --output=json "$work/disk.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')

marker="user-data-ran-$$-$t0"
# quiet: every kernel line on the emulated UART costs boot time under TCG.
append="root=/dev/vda1 rootfstype=ext4 console=ttyS0 panic=-1 quiet"
smbios=
cidata_drive=
netdev_extra=

case $cloud in
aws)
	hostname=ip-10-1-2-3.ec2.internal
	short=ip-10-1-2-3
	md=$work/imds/latest/meta-data
	mkdir -p "$md/public-keys/0"
	printf '%s' "$hostname" >"$md/hostname"
	printf '%s' "$hostname" >"$md/local-hostname"
	printf 'hostname\nlocal-hostname\npublic-keys/\n' >"$md/_index"
	printf '0=vmkey' >"$md/public-keys/_index"
	printf 'openssh-key' >"$md/public-keys/0/_index"
	printf '%s\n' "$pubkey" >"$md/public-keys/0/openssh-key"
	# gzip-compressed user-data: save_userdata must decompress it.
	# shellcheck disable=SC2016 # $(id -u) is for the guest's shell
	printf '#!/bin/sh\necho "%s"\necho "uid=$(id -u)"\n' "$marker" | gzip -9 >"$work/imds/latest/user-data"
	# The DMI sign that autodetect reads as AWS.
	smbios="type=1,manufacturer=Amazon EC2"
	# Each guest connection to 169.254.169.254:80 starts one mock process
	# on its stdin/stdout: no host port to allocate or leak. The network
	# is moved to 169.254.169.0/24 so the IMDS address is on-link, as on EC2.
	py=$(command -v python3)
	case "$py$here$work" in *,*) die "paths must not contain commas (QEMU option syntax)" ;; esac
	netdev_extra=",net=169.254.169.0/24,guestfwd=tcp:169.254.169.254:80-cmd:$py $here/imds-mock.py --inetd $work/imds"
	;;
nocloud)
	hostname=nocloud-vm.example.org
	short=nocloud-vm
	mkdir -p "$work/cidata"
	cat >"$work/cidata/meta-data" <<-EOF
		instance-id: iid-vmtest-$t0
		local-hostname: $hostname
		public-keys:
		  - $pubkey
	EOF
	cat >"$work/cidata/user-data" <<-EOF
		#cloud-config
		groups:
		  - vmtesters
		users:
		  - default
		  - name: bob
		    gecos: Second User
		    groups: [vmtesters, wheel]
		    shell: /bin/sh
		    ssh_authorized_keys:
		      - $pubkey
		write_files:
		  - path: /etc/vmtest/written
		    content: |
		      written by cloud-config $marker
		    permissions: '0640'
		runcmd:
		  - echo "runcmd $marker" > /run/vmtest-runcmd
		  - [ sh, -c, 'cp /run/vmtest-runcmd /etc/vmtest/runcmd' ]
	EOF
	genisoimage -quiet -V cidata -r -J -o "$work/cidata.iso" "$work/cidata/meta-data" "$work/cidata/user-data"
	cidata_drive="file=$work/cidata.iso,if=virtio,format=raw,readonly=on"
	append="$append ds=nocloud"
	;;
esac

# A free loopback port for SSH (tiny race with other users of the port;
# QEMU then fails to start and the test fails loudly).
ssh_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

boot() { # N: start QEMU for boot number N in the background
	n=$1
	serial=$work/serial-$n.log
	: >"$serial"
	# Optional arguments contain spaces ("Amazon EC2"): collect them as
	# positional parameters rather than in a word-split string.
	set --
	[ -z "$smbios" ] || set -- "$@" -smbios "$smbios"
	[ -z "$cidata_drive" ] || set -- "$@" -drive "$cidata_drive"
	# shellcheck disable=SC2086 # accel_args is a plain word list
	qemu-system-x86_64 -machine pc $accel_args -m "$mem" -smp 2 \
		-nographic -monitor none -serial "file:$serial" \
		-no-reboot \
		-kernel "$out/vmlinuz" -initrd "$out/initramfs.gz" -append "$append" \
		-drive "file=$work/disk.qcow2,if=virtio,format=qcow2" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$ssh_port-:22$netdev_extra" \
		-device virtio-net-pci,netdev=n0,romfile= \
		-device virtio-rng-pci \
		"$@" \
		</dev/null >"$work/qemu-$n.out" 2>&1 &
	qemu_pid=$!
	boot_start=$(date +%s)
	log "boot $n: QEMU pid $qemu_pid ($accel), ssh on 127.0.0.1:$ssh_port"
}

vm_ssh() { # [USER] -- COMMAND...
	user=alpine
	if [ "$1" != -- ]; then user=$1; fi
	shift
	# One multiplexed connection per user: a fresh SSH handshake costs
	# seconds under TCG, and the checks make dozens of calls.
	# timeout: a command hanging in the guest must not hang the test.
	timeout 120 ssh -i "$work/key" -p "$ssh_port" \
		-o ControlMaster=auto -o "ControlPath=$work/ssh-%r" -o ControlPersist=120 \
		-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o ConnectTimeout=5 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 \
		"$user@127.0.0.1" "$@"
}

alive() {
	kill -0 "$qemu_pid" 2>/dev/null || {
		cat "$work"/qemu-*.out >&2 2>/dev/null || true
		die "QEMU exited unexpectedly"
	}
}

wait_ssh() { # N: until `alpine` logs in, within boot_timeout
	deadline=$((boot_start + boot_timeout))
	while :; do
		alive
		# A failed phase leaves no way in; say so now, not at the timeout.
		if grep -q 'ERROR: tiny-cloud-[a-z]* failed' "$work/serial-$1.log"; then
			die "boot $1: a tiny-cloud phase failed (serial log below)"
		fi
		if vm_ssh -- true 2>"$work/ssh-last.err"; then break; fi
		[ "$(date +%s)" -lt "$deadline" ] || {
			cat "$work/ssh-last.err" >&2
			die "boot $1: no SSH login as alpine within ${boot_timeout}s"
		}
		sleep 2
	done
	ssh_secs=$(($(date +%s) - boot_start))
	log "boot $1: SSH login as alpine after ${ssh_secs}s"
	echo "$ssh_secs" >"$work/boot-$1-ssh-seconds"
}

wait_bootstrapped() { # sshd may come up before tiny-cloud-final is done
	deadline=$(($(date +%s) + 120))
	until vm_ssh -- sudo -n test -e /var/lib/cloud/.bootstrap-complete; do
		alive
		[ "$(date +%s)" -lt "$deadline" ] || die "no bootstrap-complete marker within 120s of SSH"
		sleep 2
	done
}

wait_exit() { # after a guest poweroff: QEMU must exit by itself
	deadline=$(($(date +%s) + 120))
	while kill -0 "$qemu_pid" 2>/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || die "guest did not power off within 120s"
		sleep 1
	done
	close_ssh
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
}

guest() { # COMMAND...: output of a command run as alpine in the guest
	vm_ssh -- "$@" || die "in the guest, failed: $*"
}

has_word() { # LIST WORD: is WORD one of LIST's space-separated words
	case " $1 " in *" $2 "*) return 0 ;; esac
	return 1
}

check() { # DESCRIPTION COMMAND...: run a host-side assertion
	what=$1
	shift
	if "$@"; then
		log "ok: $what"
	else
		die "check failed: $what"
	fi
}

# What must not change between the first and the second boot.
fingerprint() {
	# The script goes to the guest's shell on stdin: no quoting layers.
	guest sudo -n sh -s <<-'EOF'
		cd / || exit 1
		for f in etc/passwd etc/group etc/shadow etc/hostname etc/hosts \
			etc/network/interfaces etc/sudoers.d/* home/*/.ssh/authorized_keys \
			var/lib/cloud/user-data var/log/user-data.log var/log/user-data.exit \
			etc/vmtest/*; do
			if [ -e "$f" ]; then
				sha256sum "$f"
				ls -ln --time-style=+%s "$f"
			else
				echo "absent $f"
			fi
		done
		ls -l etc/runlevels/*/
	EOF
}

# --- first boot ----------------------------------------------------------
boot 1
wait_ssh 1
wait_bootstrapped

root_bytes=$(guest df -B1 --output=size / | tail -n 1 | tr -d ' ')
# The partition started at 1 GiB; grown to the end of the disk it is within a
# few percent of it (ext4 metadata and the 1 MiB before the partition).
check "root fs grown to the disk ($root_bytes of $disk_bytes bytes)" \
	test "$root_bytes" -gt $((disk_bytes * 9 / 10))
got=$(guest hostname)
check "hostname is '$short' (got '$got')" test "$got" = "$short"
hosts=$(guest cat /etc/hosts)
check "/etc/hosts names $hostname" sh -c "printf '%s\n' \"\$1\" | grep -q \"^127.0.1.1[[:space:]]$hostname $short\$\"" - "$hosts"
check "sshd enabled by tiny-cloud" vm_ssh -- test -L /etc/runlevels/default/sshd
check "eth0 configured by tiny-cloud" vm_ssh -- grep -q 'use dhcp' /etc/network/interfaces

case $cloud in
aws)
	# Absent when tiny-cloud did not recognise the (gzip-compressed)
	# user-data as a script: the serial log then says what it saved.
	check "/var/log/user-data.log exists" vm_ssh -- sudo -n test -e /var/log/user-data.log
	udlog=$(guest sudo -n cat /var/log/user-data.log)
	check "user-data script ran (marker in /var/log/user-data.log)" \
		sh -c "printf '%s\n' \"\$1\" | grep -qx '$marker'" - "$udlog"
	check "user-data script ran as root" sh -c "printf '%s\n' \"\$1\" | grep -qx 'uid=0'" - "$udlog"
	check "user-data exit status 0" test "$(guest sudo -n cat /var/log/user-data.exit | tr -d ' \n')" = 0
	check "IMDSv2 token was used" grep -q 'PUT /latest/api/token' "$work/imds/../state/requests.log"
	;;
nocloud)
	check "cloud-config user bob can log in with its key" vm_ssh bob -- true
	groups=$(guest id -nG bob)
	for g in vmtesters wheel; do
		check "bob is in $g (groups: $groups)" has_word "$groups" "$g"
	done
	written=$(guest sudo -n cat /etc/vmtest/written)
	check "write_files wrote /etc/vmtest/written" test "$written" = "written by cloud-config $marker"
	check "write_files mode 0640" test "$(guest sudo -n stat -c %a /etc/vmtest/written)" = 640
	check "runcmd ran" test "$(guest sudo -n cat /etc/vmtest/runcmd)" = "runcmd $marker"
	;;
esac

before=$(fingerprint)
printf '%s\n' "$before" >"$work/fingerprint-1"
log "first boot checked; powering off"
# -no-reboot turns the guest's reboot into a QEMU exit; poweroff is the same
# here. Then the same disk boots again.
vm_ssh -- sudo -n poweroff || true
wait_exit

# --- second boot: already bootstrapped, nothing changes ----------------------
boot 2
wait_ssh 2
after=$(fingerprint)
printf '%s\n' "$after" >"$work/fingerprint-2"
got=$(guest hostname)
check "hostname still '$short' after the reboot (got '$got')" test "$got" = "$short"
serial2=$work/serial-2.log
check "second boot logs 'already bootstrapped'" grep -q 'already bootstrapped' "$serial2"
check "second boot runs no action" sh -c "! grep -q ': starting' '$serial2'"
if [ "$before" != "$after" ]; then
	printf 'before:\n%s\nafter:\n%s\n' "$before" "$after" >&2
	die "files changed on the second boot"
fi
log "ok: nothing changed on the second boot"
stop_vm

failed=0
log "PASS ($accel): boot-to-SSH $(cat "$work/boot-1-ssh-seconds")s first boot, $(cat "$work/boot-2-ssh-seconds")s second boot; whole run $(($(date +%s) - t0))s"
