#!/usr/bin/env bash
# svc as PID 1 of an ordinary disk-based host, booted twice under qemu (TCG)
# per variant:
#
#   debian   a Debian bookworm minbase tree (debootstrap) with udev, kmod,
#            util-linux, procps, e2fsprogs and ifupdown;
#   busybox  the same tree with busybox applets in place of mount, umount,
#            swapon, swapoff, hostname, sysctl, hwclock, modprobe, findfs,
#            ifup, ifdown, getty and dmesg, and without udev or util-linux's
#            fsck (mdev, fsck.ext4 straight): the Alpine path.
#
# The tree is an ext4 image on a virtio disk (mkfs.ext4 -d, no loop mount),
# with a second ext4 disk (/data, by UUID, fsck pass 2) and a swap disk in
# its fstab, the Debian cloud kernel's modules in it, svc put in by
# `make install DESTDIR=… PREFIX=/usr` only, and the test's probe
# (tests/system/disk/). A minimal initramfs (busybox-static, the virtio
# modules; tests/system/disk/initramfs-init) mounts the root read-only and
# switch_roots to init=/usr/sbin/svc-init, as Alpine's mkinitfs and Debian's
# initramfs-tools do.
#
# Boot 1: the shipped early services bring the root read-write, mount /data,
# turn swap on, set the host name, two sysctl values and load a module of
# /etc/modules; the probe reports that, writes a token to the root and to
# /data without sync and runs `svcctl poweroff`. Between the boots, e2fsck
# -fn of both images must find them clean with no journal to replay, and
# the tokens must be on them. Boot 2 shows the tokens of boot 1, the random
# seed it saved and the file its /etc/local.d stop script wrote, and no
# journal recovery.
#
# The debootstrap tree, the busybox tree and the initramfs are cached under
# $SVC_TEST_CACHE/disk-boot, each keyed by a hash of its recipe (the shell
# functions that build it, the suite, the packages, the kernel); stale ones
# are removed. SVC_DISK_VARIANTS="debian busybox" picks the variants,
# SVC_DISK_MIRROR the Debian mirror, SVC_DISK_BOOT_TIMEOUT (300) bounds each
# boot. Root; needs what install-deps.sh installs.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DISK_SRC=$SYSTEST_DIR/disk
DISK_CACHE=$SVC_TEST_CACHE/disk-boot
KERNEL=$SVC_TEST_CACHE/kernel/vmlinuz
SUITE=bookworm
MIRROR=${SVC_DISK_MIRROR:-http://deb.debian.org/debian}
INCLUDE=kmod,e2fsprogs,procps,util-linux-extra,ifupdown,udev,busybox-static
BOOT_TIMEOUT=${SVC_DISK_BOOT_TIMEOUT:-300}
read -r -a VARIANTS <<<"${SVC_DISK_VARIANTS:-debian busybox}"
DATA_UUID=5c0dd15c-0000-4000-8000-000000d15c00

ALL_CHECKS=()
for v in "${VARIANTS[@]}"; do
  ALL_CHECKS+=("disk-boot/$v/image" "disk-boot/$v/boot1-early-services" "disk-boot/$v/boot1-devices"
    "disk-boot/$v/boot1-root-rw" "disk-boot/$v/boot1-fstab"
    "disk-boot/$v/boot1-settings" "disk-boot/$v/boot1-bootmisc" "disk-boot/$v/boot1-getty-console"
    "disk-boot/$v/boot1-seed" "disk-boot/$v/boot1-poweroff" "disk-boot/$v/fsck-clean-1" "disk-boot/$v/data-on-disk-1"
    "disk-boot/$v/boot2-previous-data" "disk-boot/$v/boot2-no-recovery" "disk-boot/$v/boot2-poweroff"
    "disk-boot/$v/fsck-clean-2")
done

say() { echo "# disk-boot: $*"; }

[ "$(id -u)" -eq 0 ] || fail_all "needs root (debootstrap, chroot, device nodes)"
missing=$(missing_cmds qemu-system-x86_64 debootstrap mkfs.ext4 e2fsck debugfs dumpe2fs mkswap \
  cpio depmod modprobe make sha256sum unshare chroot)
[ -z "$missing" ] || fail_all "missing commands: $missing (tests/system/install-deps.sh)"
[ -r "$KERNEL" ] || fail_all "no kernel at $KERNEL (tests/system/install-deps.sh)"
BUSYBOX=$(command -v busybox) && is_static "$BUSYBOX" || fail_all "no static busybox (busybox-static)"
KIMAGE=$(readlink -f "$KERNEL")
KVER=${KIMAGE##*/vmlinuz-}
KTREE=${KIMAGE%/boot/*}
[ -d "$KTREE/lib/modules/$KVER" ] || fail_all "no modules for $KVER in $KTREE"

if ! build_svc_programs; then fail_all "build failed: $BUILD_ERROR"; fi
BAD=$(not_static_programs)
[ -z "$BAD" ] || fail_all "not statically linked: $BAD"

make_tmp
mkdir -p "$DISK_CACHE"

# guard DIR: DIR is under the cache or TMP, never the host's own tree.
guard() {
  case $1 in
  "$DISK_CACHE"/?* | "$TMP"/?*) ;;
  *) echo "disk-boot: refusing path '$1'" >&2; exit 1 ;;
  esac
}

# ---------------------------------------------------------------- trees
# The Debian tree: debootstrap minbase in two stages (policy-rc.d in place
# before any package is configured, the second stage in a private mount
# namespace), documentation dropped, the kernel's modules added.
build_debian_tree() {
  local dest=$1 partial=$1.partial
  guard "$partial"
  rm -rf "$partial"
  debootstrap --foreign --variant=minbase --include="$INCLUDE" "$SUITE" "$partial" "$MIRROR" \
    >"$DISK_CACHE/debootstrap.log" 2>&1 || return 1
  mkdir -p "$partial/usr/sbin"
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 0755 "$partial/usr/sbin/policy-rc.d"
  unshare --mount --propagation private chroot "$partial" /debootstrap/debootstrap --second-stage \
    >>"$DISK_CACHE/debootstrap.log" 2>&1 || return 1
  rm -f "$partial/usr/sbin/policy-rc.d"
  rm -rf "$partial"/usr/share/{doc,man,info,locale} "$partial"/var/cache/apt/*.bin \
    "$partial"/var/cache/apt/archives/*.deb "$partial"/var/lib/apt/lists/*_Packages
  mkdir -p "$partial/usr/lib/modules"
  cp -a "$KTREE/lib/modules/$KVER" "$partial/usr/lib/modules/"
  depmod -b "$partial" "$KVER" || return 1
  mv "$partial" "$dest"
}

# The busybox tree: the Debian one with busybox's applets where they
# overlap (what an Alpine host runs), and neither udev (mdev instead) nor
# util-linux's fsck front end or findfs/blkid.
build_busybox_tree() {
  local dest=$1 partial=$1.partial a
  guard "$partial"
  rm -rf "$partial"
  cp -a "$2" "$partial" || return 1
  for a in usr/bin/mount usr/bin/umount usr/sbin/swapon usr/sbin/swapoff usr/bin/hostname \
    usr/sbin/sysctl usr/sbin/hwclock usr/sbin/modprobe usr/sbin/findfs usr/sbin/ifup usr/sbin/ifdown \
    usr/sbin/getty usr/bin/dmesg usr/sbin/mdev; do
    rm -f "${partial:?}/$a"
    ln -s /usr/bin/busybox "$partial/$a"
  done
  # Alpine's mdev.conf, in short: modules for hotplugged devices.
  printf '%s\n' '$MODALIAS=.* root:root 0660 @modprobe -q "$MODALIAS"' >"$partial/etc/mdev.conf"
  rm -f "$partial"/usr/bin/udevadm "$partial"/usr/lib/systemd/systemd-udevd \
    "$partial"/lib/systemd/systemd-udevd "$partial"/usr/sbin/fsck "$partial"/usr/sbin/blkid
  mv "$partial" "$dest"
}

# The initramfs (lib.sh): busybox-static, the virtio modules, our init.
build_initramfs() { build_virtio_initramfs "$1" "$2" "$DISK_SRC/initramfs-init"; }
key() { recipe_key "$@"; }
cached() { cached_build "$DISK_CACHE" "$@"; }

t_start=$(date +%s)
debian_key=$(key "$(declare -f build_debian_tree)" "$SUITE" "$INCLUDE" "$KVER")
if ! DEBIAN_TREE=$(cached debian "$debian_key" build_debian_tree); then
  fail_all "building the Debian tree failed: see $DISK_CACHE/debootstrap.log"
fi
say "Debian tree $DEBIAN_TREE ready after $(($(date +%s) - t_start)) s"
initramfs_key=$(key "$debian_key" "$(declare -f build_initramfs build_virtio_initramfs)" "$(sha256sum <"$DISK_SRC/initramfs-init")" \
  "$(sha256sum <"$BUSYBOX")")
INITRD=$(cached initramfs "$initramfs_key" build_initramfs "$DEBIAN_TREE") ||
  fail_all "building the initramfs failed: see $DISK_CACHE/initramfs.log"

# svc as `make install` puts it, from the programs built above.
BIN=$TMP/bin
bin_dir "$BIN" || fail_all "a program for make install is missing (cp said which)"

# ---------------------------------------------------------------- images
# make_images VARIANT TREE: root.img, data.img and swap.img in $TMP/VARIANT.
make_images() {
  local v=$1 tree=$2 dir=$TMP/$1 stage=$TMP/$1/root
  mkdir -p "$dir" && cp -a "$tree" "$stage" || return 1
  make -s -C "$REPO_ROOT" install DESTDIR="$stage" PREFIX=/usr BIN_DIR="$BIN" GEN_DIR="$TMP/gen" \
    >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; return 1; }
  install -D -m 0644 "$DISK_SRC/disk-probe.ini" "$stage/usr/lib/svc/services.d/disk-probe.ini"
  install -D -m 0755 "$DISK_SRC/disk-probe" "$stage/usr/lib/svc-test/disk-probe"
  mkdir -p "$stage/etc/svc/enabled/default" "$stage/data" "$stage/etc/local.d" "$stage/etc/sysctl.d"
  : >"$stage/etc/svc/enabled/default/disk-probe"
  cat >"$stage/etc/fstab" <<EOF
# disk-boot.sh
/dev/vda / ext4 defaults,errors=remount-ro 0 1
UUID=$DATA_UUID /data ext4 defaults 0 2
/dev/vdc none swap sw 0 0
/dev/vdd /never ext4 noauto 0 0
EOF
  echo svc-disk-test >"$stage/etc/hostname"
  echo 'vm.swappiness = 13' >"$stage/etc/sysctl.conf"
  echo 'kernel.pid_max = 54321' >"$stage/etc/sysctl.d/60-svc-test.conf"
  printf '%s\n' '# disk-boot.sh' dummy >"$stage/etc/modules"
  # dummy0 (the dummy module above makes it) is what ifup -a must bring
  # up: lo is up already (svc-init's).
  printf '%s\n' 'auto lo' 'iface lo inet loopback' '' 'auto dummy0' 'iface dummy0 inet static' \
    '  address 10.211.0.1' '  netmask 255.255.255.0' >"$stage/etc/network/interfaces"
  printf '#!/bin/sh\necho started >/run/local-started\n' >"$stage/etc/local.d/svc-test.start"
  printf '#!/bin/sh\necho stopped >/data/local-stopped\n' >"$stage/etc/local.d/svc-test.stop"
  chmod 0755 "$stage"/etc/local.d/*
  # The Debian tree has a seed saved from a ready pool (as a shutdown
  # leaves one), which svc-seedrng credits; the busybox tree is a fresh
  # install with none.
  if [ "$v" = debian ]; then
    mkdir -p -m 0700 "$stage/var/lib/seedrng"
    head -c 32 /dev/urandom >"$stage/var/lib/seedrng/seed.credit"
    chmod 0400 "$stage/var/lib/seedrng/seed.credit"
  fi
  # Debian's way of asking for a clean /tmp at boot.
  echo 'TMPTIME=0' >"$stage/etc/default/rcS"
  echo stale >"$stage/tmp/stale-file"
  # What the kernel opens for init before anything mounts /dev.
  [ -e "$stage/dev/console" ] || mknod -m 600 "$stage/dev/console" c 5 1
  [ -e "$stage/dev/null" ] || mknod -m 666 "$stage/dev/null" c 1 3
  "$BIN/svcctl" --services "$stage/usr/lib/svc/services.d" --enabled "$stage/etc/svc/enabled" \
    check >"$dir/check.log" 2>&1 || { cat "$dir/check.log" >&2; return 1; }
  mkfs.ext4 -q -F -L svcroot -d "$stage" "$dir/root.img" 1200M || return 1
  rm -rf "$stage"
  mkdir -p "$dir/data"
  echo "the second disk of disk-boot.sh" >"$dir/data/README"
  mkfs.ext4 -q -F -L svcdata -U "$DATA_UUID" -d "$dir/data" "$dir/data.img" 64M || return 1
  truncate -s 64M "$dir/swap.img" && mkswap -q "$dir/swap.img" >/dev/null || return 1
  truncate -s 16M "$dir/never.img"
}

# boot VARIANT N: one boot of VARIANT's images; the serial log in
# $TMP/VARIANT/bootN.log. False if qemu did not exit within BOOT_TIMEOUT.
boot() {
  local dir=$TMP/$1 log=$TMP/$1/boot$2.log pid rc=0 d
  local drives=()
  for d in root data swap never; do drives+=(-drive "file=$dir/$d.img,if=virtio,format=raw"); done
  : >"$log"
  timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -smp 1 -m 512 -nic none -display none \
    -no-reboot -monitor none -serial "file:$log" -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 root=/dev/vda init=/usr/sbin/svc-init panic=-1 loglevel=5" \
    "${drives[@]}" </dev/null >"$log.qemu" 2>&1 &
  pid=$!
  at_exit "kill_child_tree $pid"
  wait "$pid" || rc=$?
  [ -n "${SVC_KEEP_LOGS:-}" ] && mkdir -p "$SVC_KEEP_LOGS" && cp "$log" "$SVC_KEEP_LOGS/disk-boot-$1-boot$2.log"
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]
}

# value LOG KEY: the probe's first "disk-probe: KEY=VALUE" in LOG.
value() {
  tr -d '\r' <"$1" | grep -a -o -m1 "disk-probe: $2=[^[:space:]]*" | head -n1 | cut -d= -f2-
}

# expect CHECK LOG KEY=VALUE...: pass CHECK if the probe said each.
expect() {
  local check=$1 log=$2 kv got bad=()
  shift 2
  for kv in "$@"; do
    got=$(value "$log" "${kv%%=*}")
    [ "$got" = "${kv#*=}" ] || bad+=("${kv%%=*}=${got:-(nothing)}, expected ${kv#*=}")
  done
  if [ "${#bad[@]}" -eq 0 ]; then pass "$check"; else fail "$check" "${bad[*]}"; fi
}

# why LOG: a short account of a boot that went wrong.
why() {
  tr -d '\r' <"$1" | grep -a -E 'Kernel panic|initramfs:|svc-init:.*(emergency|error)|svc-manager: /|failed|disk-probe: (start|poweroff)' |
    head -n 6 | tr '\n' '|' | cut -c1-600
}

# orderly CHECK LOG: the manager stopped everything, the early services'
# stop halves ran, and the kernel powered off.
orderly() {
  local log=$2 bad=()
  grep -a -q 'reboot: Power down' "$log" || bad+=("no 'reboot: Power down'")
  grep -a -Eq "$MANAGER_ORDERLY_RE" "$log" || bad+=("no orderly end of the manager")
  grep -a -q 'localmount: unmounted /data' "$log" || bad+=("/data not unmounted by localmount")
  # Saved by the start half and again by the stop half.
  [ "$(grep -a -c -E 'seed: saved [0-9]+ bits of (creditable|uncreditable) seed' "$log")" -ge 2 ] ||
    bad+=("no random seed saved at shutdown")
  local not=$(services_not_stopped "$log" local networking seed clock swap localmount root)
  [ -z "$not" ] || bad+=("not stopped in order: $not")
  if [ "${#bad[@]}" -eq 0 ]; then pass "$1"; else fail "$1" "${bad[*]}; $(why "$log")"; fi
}

# fsck_clean CHECK DIR: e2fsck -fn finds both filesystems clean, with no
# journal to replay.
fsck_clean() {
  local img out bad=()
  for img in root data; do
    if ! out=$(e2fsck -fn "$2/$img.img" 2>&1); then
      bad+=("$img: e2fsck -fn: $(echo "$out" | grep -v '^Pass\|^e2fsck' | head -n 3 | tr '\n' ' ')")
    fi
    dumpe2fs -h "$2/$img.img" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery' &&
      bad+=("$img: the journal needs recovery")
    dumpe2fs -h "$2/$img.img" 2>/dev/null | grep -q '^Filesystem state:[[:space:]]*clean$' ||
      bad+=("$img: state $(dumpe2fs -h "$2/$img.img" 2>/dev/null | sed -n 's/^Filesystem state:[[:space:]]*//p')")
  done
  if [ "${#bad[@]}" -eq 0 ]; then pass "$1"; else fail "$1" "${bad[*]}"; fi
}

# on_disk IMAGE PATH: PATH's contents in the ext4 IMAGE (debugfs).
on_disk() { debugfs -R "cat $2" "$1" 2>/dev/null; }

# saved_seed IMAGE: the seed svc-seedrng left (one of the two files).
saved_seed() {
  on_disk "$1" /var/lib/seedrng/seed.credit
  on_disk "$1" /var/lib/seedrng/seed.no-credit
}

run_variant() {
  local v=$1 tree=$2 dir=$TMP/$1 log1 log2 token1 seed1 seed2 t0
  t0=$(date +%s)
  if ! make_images "$v" "$tree" >"$TMP/$v-images.log" 2>&1; then
    for c in "${ALL_CHECKS[@]}"; do
      case $c in "disk-boot/$v/image") fail "$c" "$(tail -n 3 "$TMP/$v-images.log" | tr '\n' '|')" ;;
      "disk-boot/$v/"*) fail "$c" "no image" ;; esac
    done
    return
  fi
  pass "disk-boot/$v/image"

  log1=$dir/boot1.log
  boot "$v" 1 || say "$v boot 1 timed out after ${BOOT_TIMEOUT} s"
  expect "disk-boot/$v/boot1-early-services" "$log1" early-not-up=none
  # udevd on Debian; mdev, set up from /etc/mdev.conf, on the busybox tree.
  local dm=udevd
  [ "$v" = busybox ] && dm=mdev
  expect "disk-boot/$v/boot1-devices" "$log1" "device-manager=$dm"
  expect "disk-boot/$v/boot1-root-rw" "$log1" root=rw
  expect "disk-boot/$v/boot1-fstab" "$log1" data=mounted swaps=1
  expect "disk-boot/$v/boot1-settings" "$log1" hostname=svc-disk-test swappiness=13 pid_max=54321 \
    module-dummy=loaded dummy0=up
  expect "disk-boot/$v/boot1-bootmisc" "$log1" utmp=yes dmesg-saved=yes local-start=yes \
    previous-root-token=none
  expect "disk-boot/$v/boot1-getty-console" "$log1" getty-ttyS0=yes
  # Debian: the saved seed credited, so the pool was ready for the next
  # one (getrandom without waiting). busybox: nothing to load, a seed saved.
  local want='seed: saved [0-9]+ bits of (creditable|uncreditable) seed to /var/lib/seedrng/seed\.'
  [ "$v" = debian ] && want='seed: loaded 256 bits from /var/lib/seedrng/seed\.credit, credited'
  if [ "$v" = debian ] && ! grep -a -q -E 'seed: saved [0-9]+ bits of creditable seed' "$log1"; then
    fail "disk-boot/$v/boot1-seed" "credited seed, but the next one was not creditable: $(grep -a '^seed:' "$log1" | tr '\n' '|')"
  elif tr -d '\r' <"$log1" | grep -a -q -E "$want"; then
    pass "disk-boot/$v/boot1-seed"
  else
    fail "disk-boot/$v/boot1-seed" "no line like '$want': $(grep -a '^seed:' "$log1" | tr '\n' '|')"
  fi
  orderly "disk-boot/$v/boot1-poweroff" "$log1"
  fsck_clean "disk-boot/$v/fsck-clean-1" "$dir"

  token1=$(value "$log1" token)
  seed1=$(saved_seed "$dir/root.img" | sha256sum | cut -c1-16)
  local r d s l
  r=$(on_disk "$dir/root.img" /var/lib/disk-probe/token)
  d=$(on_disk "$dir/data.img" /token)
  s=$(saved_seed "$dir/root.img" | wc -c)
  l=$(on_disk "$dir/data.img" /local-stopped)
  if [ -n "$token1" ] && [ "$r" = "$token1" ] && [ "$d" = "$token1" ] && [ "$s" -ge 32 ] && [ "$s" -le 512 ] &&
    [ "$l" = stopped ] && [ -z "$(on_disk "$dir/root.img" /tmp/stale-file; echo)" ]; then
    pass "disk-boot/$v/data-on-disk-1"
  else
    fail "disk-boot/$v/data-on-disk-1" "token '${token1:-none}': root '$r', data '$d'; seed $s bytes; local stop '$l'"
  fi

  log2=$dir/boot2.log
  boot "$v" 2 || say "$v boot 2 timed out after ${BOOT_TIMEOUT} s"
  expect "disk-boot/$v/boot2-previous-data" "$log2" "previous-root-token=${token1:-none}" \
    "previous-data-token=${token1:-none}" previous-local-stop=stopped root=rw data=mounted swaps=1
  if grep -a -q -E 'seed: loaded [0-9]+ bits from /var/lib/seedrng/seed\.' "$log2"; then
    expect "disk-boot/$v/boot2-no-recovery" "$log2" journal-recovery=no
  else
    fail "disk-boot/$v/boot2-no-recovery" "the random seed of boot 1 was not loaded"
  fi
  orderly "disk-boot/$v/boot2-poweroff" "$log2"
  fsck_clean "disk-boot/$v/fsck-clean-2" "$dir"
  seed2=$(saved_seed "$dir/root.img" | sha256sum | cut -c1-16)
  [ "$seed1" != "$seed2" ] || say "$v: the random seed did not change between the boots"
  say "$v: images and two boots took $(($(date +%s) - t0)) s"
  rm -f "$dir"/*.img
}

for v in "${VARIANTS[@]}"; do
  case $v in
  debian) run_variant debian "$DEBIAN_TREE" ;;
  busybox)
    busybox_key=$(key "$debian_key" "$(declare -f build_busybox_tree)")
    if BUSYBOX_TREE=$(cached busybox "$busybox_key" build_busybox_tree "$DEBIAN_TREE"); then
      run_variant busybox "$BUSYBOX_TREE"
    else
      for c in "${ALL_CHECKS[@]}"; do case $c in disk-boot/busybox/*) fail "$c" "building the busybox tree failed" ;; esac; done
    fi
    ;;
  *) fail "disk-boot/$v" "unknown variant (debian, busybox)" ;;
  esac
done
say "took $(($(date +%s) - t_start)) s"
summary
