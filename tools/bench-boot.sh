#!/usr/bin/env bash
# make bench-boot: init's share of a disk boot, svc against OpenRC, runit and
# a plain shell script, booted interleaved in the same run.
#
# One Debian bookworm minbase tree (debootstrap) with rsyslog, cron,
# openssh-server and nginx-light, udev, kmod, procps, e2fsprogs, ifupdown and
# the guest kernel's modules; from it four root images, each with its own
# init (docs/benchmarks-boot.md says what each does at boot):
#
#   svc     `make install DESTDIR=` of svc with the shipped early services
#           (services.d/) and the bench's declarations of the four daemons
#           and the probe (tools/bench-boot/services.d/);
#   openrc  Debian's sysvinit-core + openrc (chroot apt-get in a copy of the
#           tree), the daemons' LSB scripts in the default runlevel, the
#           probe an OpenRC script after everything;
#   runit   Debian's runit + runit-init + runit-services, the probe a runit
#           service;
#   floor   a shell script as /sbin/init: mounts, / read-write, the four
#           daemons and the probe with `&`, nothing else;
#   floor-early  the floor plus svc's early work (fsck, /data, swap, udev,
#           host name, sysctl, seed, utmp, dmesg) done by the cheapest
#           script for this machine (tools/bench-boot/floor-early-init).
#
# Every image has the same early work to do: root ext4 on a virtio disk
# (read-only from the initramfs, to be remounted read-write), a second ext4
# disk in fstab (/data, by UUID), a swap disk, /etc/hostname, a sysctl.d
# file and a saved random seed. A minimal initramfs
# (tools/bench-boot/initramfs-init, as tests/system/disk-boot.sh's) mounts
# the root and switch_roots to the variant's init, writing
# "bench-boot: hand-over" to /dev/kmsg just before.
#
# The boots are interleaved (svc, openrc, runit, floor, svc, …),
# BENCH_BOOT_RUNS of each, under qemu in software emulation, each from a
# fresh copy of the variant's pristine images. In each boot the probe
# (tools/bench-boot/probe.rs) polls every 20 ms until rsyslog's /dev/log, a
# cron process, sshd's banner and HTTP 200 from nginx all answer, prints the
# time since the hand-over on the kernel's own clock and runs the variant's
# poweroff. Medians, ranges and ratios go to docs/benchmarks-boot.md and
# stdout.
#
# A benchmark, not a test: `make test` does not run it. As root.
#
# Environment:
#   BENCH_BOOT_RUNS=5          boots of each variant
#   BENCH_BOOT_VARIANTS="svc openrc runit floor floor-early"
#   BENCH_BOOT_TIMEOUT=300     seconds allowed for one boot (qemu killed after)
#   BENCH_BOOT_SHUTDOWN=60     seconds allowed for the power-off once the
#                              probe has reported (qemu killed after)
#   BENCH_BOOT_MIRROR=URL      Debian mirror for debootstrap and apt-get
#   BENCH_BOOT_APPEND=WORDS    more kernel command line words
#   BENCH_BOOT_SMP=1           the guests' CPUs (qemu -smp; the default, one,
#                              is the figure docs/benchmarks-boot.md keeps)
#   CARGO_TARGET_DIR           default target-bench-boot
#   SVC_TEST_CACHE             install-deps.sh's kernel; the trees and
#                              images are cached in its bench-boot/, each
#                              keyed by a hash of its recipe
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SRC=$REPO_ROOT/tools/bench-boot
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$REPO_ROOT/target-bench-boot}")
export CARGO_TARGET_DIR
# lib.sh: at_exit/make_tmp cleanup, kill_child_tree, missing_cmds,
# is_static, build_svc_programs and SVC_TEST_CACHE, shared with the system
# tests that boot svc under qemu.
# shellcheck source=tests/system/lib.sh
. "$REPO_ROOT/tests/system/lib.sh"
set -euo pipefail

RUNS=${BENCH_BOOT_RUNS:-5}
read -r -a VARIANTS <<<"${BENCH_BOOT_VARIANTS:-svc openrc runit floor floor-early}"
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-300}
SHUTDOWN=${BENCH_BOOT_SHUTDOWN:-60}
SMP=${BENCH_BOOT_SMP:-1}
case $SMP in '' | *[!0-9]* | 0) echo "bench-boot: BENCH_BOOT_SMP=$SMP: not a number of CPUs" >&2; exit 2 ;; esac
MIRROR=${BENCH_BOOT_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# disk-boot.sh's tree (what svc's early services use) plus the daemons.
INCLUDE=kmod,e2fsprogs,procps,util-linux-extra,ifupdown,udev,busybox-static,rsyslog,cron,openssh-server,nginx-light
OPENRC_PKGS="sysvinit-core openrc"
RUNIT_PKGS="runit runit-init runit-services"
CACHE=$SVC_TEST_CACHE/bench-boot
KERNEL=$SVC_TEST_CACHE/kernel/vmlinuz
REPORT=$REPO_ROOT/docs/benchmarks-boot.md
DATA_UUID=5c0dd15c-0000-4000-8000-0000000be4c0
HOSTNAME_SET=bench-boot
MEM_MB=512

say() { echo "bench-boot: $*"; }
die() {
  echo "bench-boot: error: $*" >&2
  exit 1
}

# guard DIR: DIR is under the cache or TMP, never the host's own tree (a
# chroot or rm with an empty root variable once overwrote a host's /etc).
guard() {
  case ${1:?guard: empty path} in
  *"/../"* | *"/..") die "refusing path '$1'" ;;
  "$CACHE"/?* | "${TMP:-/nonexistent}"/?*) ;;
  *) die "refusing path '$1': not under $CACHE" ;;
  esac
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, device nodes)"
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_BOOT_RUNS must be a positive number, got '$RUNS'" ;; esac
for v in "${VARIANTS[@]}"; do
  case $v in svc | openrc | runit | floor | floor-early) ;; *) die "unknown variant '$v' (svc openrc runit floor floor-early)" ;; esac
done

# ---------------------------------------------------------------- tools
if [ ! -r "$KERNEL" ] || ! command -v qemu-system-x86_64 >/dev/null; then
  say "qemu or the kernel is missing: running tests/system/install-deps.sh"
  bash "$REPO_ROOT/tests/system/install-deps.sh"
fi
missing=$(missing_cmds qemu-system-x86_64 debootstrap mkfs.ext4 mkswap cpio depmod modprobe make \
  sha256sum unshare chroot timeout readelf dpkg-query cargo rustc)
[ -z "$missing" ] || die "missing commands: $missing (tests/system/install-deps.sh)"
[ -r "$KERNEL" ] || die "no kernel at $KERNEL (tests/system/install-deps.sh)"
BUSYBOX=$(command -v busybox) && is_static "$BUSYBOX" || die "no static busybox (busybox-static)"
KIMAGE=$(readlink -f "$KERNEL")
KVER=${KIMAGE##*/vmlinuz-}
KTREE=${KIMAGE%/boot/*}
[ -d "$KTREE/lib/modules/$KVER" ] || die "no modules for $KVER in $KTREE"

make_tmp
mkdir -p "$CACHE"

# ---------------------------------------------------------------- trees
# in_tree TREE CMD...: CMD chrooted in TREE, in a private mount namespace
# with its own /proc (never seen on the host), no daemon started
# (policy-rc.d), the host's resolver for apt.
in_tree() {
  local t=$1
  shift
  guard "$t"
  unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" && shift && exec chroot "$@"' \
    sh "$t" "$t" "$@"
}

# The base tree: debootstrap minbase in two stages (policy-rc.d in place
# before any package is configured), the sshd host keys made, the kernel's
# modules added; apt's lists kept for the variants' apt-get.
build_base() {
  local dest=$1 partial=$1.partial
  guard "$partial"
  rm -rf "$partial"
  debootstrap --foreign --variant=minbase --include="$INCLUDE" "$SUITE" "$partial" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1 || return 1
  mkdir -p "$partial/usr/sbin"
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 0755 "$partial/usr/sbin/policy-rc.d"
  unshare --mount --propagation private chroot "$partial" /debootstrap/debootstrap --second-stage \
    >>"$CACHE/debootstrap.log" 2>&1 || return 1
  echo "deb $MIRROR $SUITE main" >"$partial/etc/apt/sources.list"
  cp -L /etc/resolv.conf "$partial/etc/resolv.conf"
  in_tree "$partial" apt-get -qq update >>"$CACHE/debootstrap.log" 2>&1 || return 1
  in_tree "$partial" /usr/bin/ssh-keygen -A >/dev/null || return 1
  rm -rf "$partial"/usr/share/{doc,man,info,locale} "$partial"/var/cache/apt/archives/*.deb
  mkdir -p "$partial/usr/lib/modules"
  cp -a "$KTREE/lib/modules/$KVER" "$partial/usr/lib/modules/"
  depmod -b "$partial" "$KVER" || return 1
  mv "$partial" "$dest"
}

# apt_in TREE PACKAGES...: apt-get install inside TREE (never on the host).
apt_in() {
  local t=$1
  shift
  in_tree "$t" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confnew \
    install --no-install-recommends "$@"
}

# The four variant trees, copies of the base. What each does at boot is
# documented in docs/benchmarks-boot.md ("The variants").
build_variant() {
  local dest=$1 v=$2 base=$3 partial=$1.partial s
  guard "$partial"
  rm -rf "$partial"
  cp -a "$base" "$partial" || return 1
  mkdir -p "$partial/usr/lib/svc-bench"
  case $v in
  svc)
    make -s -C "$REPO_ROOT" install DESTDIR="$partial" PREFIX=/usr BIN_DIR="$BIN" GEN_DIR="$TMP/gen" || return 1
    # The bench's default target and daemons replace the shipped busybox
    # ones (syslogd, crond: not in a Debian tree) and default (a getty).
    rm -f "$partial"/usr/lib/svc/services.d/{syslogd,crond,default,nginx}.ini
    install -m 0644 "$BENCH_SRC"/services.d/*.ini "$partial/usr/lib/svc/services.d/"
    mkdir -p "$partial/etc/svc/enabled/default"
    for s in cron ssh nginx bench-probe; do : >"$partial/etc/svc/enabled/default/$s"; done
    ln -sf svc-init "$partial/usr/sbin/init"
    printf '#!/bin/sh\nexec /usr/bin/svcctl poweroff\n' >"$partial/usr/lib/svc-bench/poweroff"
    "$BIN/svcctl" --services "$partial/usr/lib/svc/services.d" --enabled "$partial/etc/svc/enabled" \
      check || return 1
    ;;
  openrc)
    # shellcheck disable=SC2086 # a list of package names
    apt_in "$partial" $OPENRC_PKGS || return 1
    # bookworm's rsyslog ships no LSB script (systemd unit only): an
    # openrc-run one as Alpine's, rsyslogd daemonizing with its pid file.
    cat >"$partial/etc/init.d/rsyslog" <<'EOF'
#!/sbin/openrc-run
description="rsyslog (bench-boot; bookworm's rsyslog has no init script)"
command=/usr/sbin/rsyslogd
pidfile=/run/rsyslogd.pid
depend() {
	after mountall.sh bootmisc.sh
	provide logger
}
EOF
    chmod 0755 "$partial/etc/init.d/rsyslog"
    for s in rsyslog cron ssh nginx; do in_tree "$partial" rc-update add "$s" default || return 1; done
    # The probe: an OpenRC script after every other one of the runlevel,
    # in the background so the runlevel completes.
    cat >"$partial/etc/init.d/bench-probe" <<'EOF'
#!/sbin/openrc-run
description="boot benchmark readiness probe"
depend() {
	after *
}
start() {
	/usr/lib/svc-bench/bench-probe </dev/null >/dev/console 2>&1 &
}
EOF
    chmod 0755 "$partial/etc/init.d/bench-probe"
    in_tree "$partial" rc-update add bench-probe default || return 1
    # No gettys: the guest has no virtual terminals, and the other
    # variants start none.
    sed -i 's/^\([1-6]:[0-9]*:respawn:\)/#\1/' "$partial/etc/inittab"
    printf '#!/bin/sh\nexec /sbin/poweroff\n' >"$partial/usr/lib/svc-bench/poweroff"
    ;;
  runit)
    # shellcheck disable=SC2086 # a list of package names
    apt_in "$partial" $RUNIT_PKGS || return 1
    # rsyslog and cron: runit-services' run scripts, sshd: openssh-server's,
    # enabled as runit-helper does (/etc/sv/NAME, linked into
    # /etc/service). nginx has none in bookworm: the command of svc's
    # declaration.
    # A /etc/sv/NAME also keeps stage 2 from running NAME's LSB script.
    # Debian's /etc/service is a link (to runsvdir/current, then default):
    # links are made in the directory itself, never through an absolute
    # link that would resolve on the host.
    local sv=$partial/etc/sv svdir=$partial/etc/runit/runsvdir/default
    [ ! -L "$sv" ] && [ -d "$svdir" ] && [ ! -L "$svdir" ] || { echo "unexpected runit layout" >&2; return 1; }
    mkdir -p "$sv"
    for s in rsyslog cron; do
      [ -d "$partial/usr/share/runit/sv/$s" ] || { echo "runit-services has no $s" >&2; return 1; }
      [ -L "$sv/$s" ] || [ -d "$sv/$s" ] || ln -s "/usr/share/runit/sv/$s" "$sv/$s"
    done
    # openssh-server ships its own (/etc/sv/ssh: `sshd -t`, then `sshd -D`).
    [ -x "$sv/ssh/run" ] || { echo "openssh-server has no /etc/sv/ssh/run" >&2; return 1; }
    mkdir -p "$sv"/{nginx,bench-probe}
    printf '#!/bin/sh\nexec 2>&1\nexec /usr/sbin/nginx -g "daemon off;"\n' >"$sv/nginx/run"
    # Once: runsv starts a run script again when it exits, and the probe
    # exits into runit's poweroff.
    printf '%s\n' '#!/bin/sh' '[ -e /run/bench-probe.ran ] && exec sleep 3600' ': >/run/bench-probe.ran' \
      'exec /usr/lib/svc-bench/bench-probe </dev/null >/dev/console 2>&1' >"$sv/bench-probe/run"
    chmod 0755 "$sv"/{nginx,bench-probe}/run
    for s in rsyslog cron ssh nginx bench-probe; do
      [ -L "$svdir/$s" ] || ln -s "/etc/sv/$s" "$svdir/$s"
    done
    # No gettys: the guest has no virtual terminals, and the other
    # variants start none.
    rm -f "$svdir"/getty-*
    printf '#!/bin/sh\nexec /sbin/poweroff\n' >"$partial/usr/lib/svc-bench/poweroff"
    ;;
  floor)
    install -m 0755 "$BENCH_SRC/floor-init" "$partial/usr/sbin/init"
    cat >"$partial/usr/lib/svc-bench/poweroff" <<'EOF'
#!/bin/sh
sync
mount -o remount,ro / 2>/dev/null
exec busybox poweroff -f
EOF
    ;;
  esac
  chmod 0755 "$partial/usr/lib/svc-bench/poweroff"
  install -m 0755 "$PROBE" "$partial/usr/lib/svc-bench/bench-probe"
  rm -rf "$partial"/var/lib/apt/lists/* "$partial"/var/cache/apt/*.bin "$partial"/var/cache/apt/archives/*.deb \
    "$partial"/usr/share/{doc,man,info,locale}
  rm -f "$partial/etc/resolv.conf" "$partial/usr/sbin/policy-rc.d"
  mv "$partial" "$dest"
}

# The same early work for every variant: fstab with the root, /data by
# UUID and a swap disk, the host name, a sysctl.d file, and a random seed
# saved by the last shutdown where each init looks for one: svc-seedrng's
# /var/lib/seedrng (seed.credit: svc saves it so when the kernel's pool was
# ready, as at every shutdown) and Debian's initscripts'
# /var/lib/systemd/random-seed and /var/lib/urandom (which a shell can only
# write into /dev/urandom, uncredited).
configure_tree() {
  local stage=$1
  guard "$stage"
  mkdir -p "$stage/data" "$stage/etc/sysctl.d" "$stage/var/lib/urandom" "$stage/var/lib/systemd"
  mkdir -p -m 0700 "$stage/var/lib/seedrng"
  cat >"$stage/etc/fstab" <<EOF
# bench-boot.sh
/dev/vda / ext4 defaults,errors=remount-ro 0 1
UUID=$DATA_UUID /data ext4 defaults 0 2
/dev/vdc none swap sw 0 0
EOF
  echo "$HOSTNAME_SET" >"$stage/etc/hostname"
  echo 'vm.swappiness = 13' >"$stage/etc/sysctl.d/60-bench-boot.conf"
  printf '%s\n' 'auto lo' 'iface lo inet loopback' >"$stage/etc/network/interfaces"
  head -c 512 /dev/urandom >"$stage/var/lib/urandom/random-seed"
  cp "$stage/var/lib/urandom/random-seed" "$stage/var/lib/systemd/random-seed"
  head -c 32 /dev/urandom >"$stage/var/lib/seedrng/seed.credit"
  chmod 0600 "$stage"/var/lib/{urandom,systemd}/random-seed
  chmod 0400 "$stage/var/lib/seedrng/seed.credit"
  [ -e "$stage/dev/console" ] || mknod -m 600 "$stage/dev/console" c 5 1
  [ -e "$stage/dev/null" ] || mknod -m 666 "$stage/dev/null" c 1 3
}

# build_images DIR TREE: root.img (the tree, configured), data.img and
# swap.img, the pristine copies every boot starts from.
build_images() {
  local dir=$1 partial=$1.partial stage=$1.partial/root
  guard "$partial"
  rm -rf "$partial"
  mkdir -p "$partial"
  cp -a "$2" "$stage" || return 1
  configure_tree "$stage" || return 1
  mkfs.ext4 -q -F -L benchroot -d "$stage" "$partial/root.img" 1200M || return 1
  rm -rf "$stage"
  mkdir -p "$partial/data"
  echo "the second disk of bench-boot.sh" >"$partial/data/README"
  mkfs.ext4 -q -F -L benchdata -U "$DATA_UUID" -d "$partial/data" "$partial/data.img" 64M || return 1
  rm -rf "$partial/data"
  truncate -s 64M "$partial/swap.img" && mkswap -q "$partial/swap.img" >/dev/null || return 1
  mv "$partial" "$dir"
}

# The initramfs (lib.sh): busybox-static, the virtio modules, our init.
build_initramfs() { build_virtio_initramfs "$1" "$2" "$BENCH_SRC/initramfs-init"; }
key() { recipe_key "$@"; }
cached() { cached_build "$CACHE" "$@"; }

t_start=$(date +%s)
base_key=$(key "$(declare -f build_base in_tree)" "$SUITE" "$INCLUDE" "$KVER" "$MIRROR")
BASE=$(cached base "$base_key" build_base) || die "building the base tree failed: see $CACHE/debootstrap.log"
say "base tree $BASE ready after $(($(date +%s) - t_start)) s"
INITRD=$(cached initramfs "$(key "$base_key" "$(declare -f build_initramfs build_virtio_initramfs)" \
  "$(sha256sum <"$BENCH_SRC/initramfs-init")" "$(sha256sum <"$BUSYBOX")")" build_initramfs "$BASE") ||
  die "building the initramfs failed: see $CACHE/initramfs.log"

# ---------------------------------------------------------------- build
say "building the static svc programs (cargo, $CARGO_TARGET_DIR)"
SVC_BUILD_TRIES=${SVC_BUILD_TRIES:-3}
build_svc_programs || die "cargo build failed: $BUILD_ERROR"
BAD=$(not_static_programs)
[ -z "$BAD" ] || die "not statically linked: $BAD"
BIN=$TMP/bin
bin_dir "$BIN" || die "a program for make install is missing (cp said which)"
PROBE=$TMP/bench-probe
rustc --edition 2024 -C opt-level=2 -C target-feature=+crt-static -C relocation-model=static \
  -C strip=symbols -o "$PROBE" "$BENCH_SRC/probe.rs" || die "the probe does not build"

# Each variant's recipe: the base, the functions, the package lists and
# its files (svc: the programs and every file `make install` takes).
variant_key() {
  local v=$1 extra=""
  case $v in
  svc) extra=$(cd "$REPO_ROOT" && cat "$BIN"/* Makefile services.d/* libexec/* libexec/early.d/* "$BENCH_SRC"/services.d/* 2>/dev/null |
    sha256sum) ;;
  openrc) extra=$OPENRC_PKGS ;;
  runit) extra=$RUNIT_PKGS ;;
  floor) extra=$(sha256sum <"$BENCH_SRC/floor-init") ;;
  floor-early) extra=$(cat "$BENCH_SRC/floor-early-init" "$BIN/svc-seedrng" | sha256sum)$(declare -f build_floor_early) ;;
  esac
  key "$base_key" "$v" "$(declare -f build_variant apt_in configure_tree build_images)" "$extra" \
    "$(sha256sum <"$PROBE")" "$DATA_UUID" "$HOSTNAME_SET"
}
# floor-early: the floor's tree with floor-early-init as /sbin/init, and
# svc-seedrng for its seed (a shell cannot credit one; without it the
# script would do less than svc's early work, not the same).
build_floor_early() {
  build_variant "$1" floor "$3" || return 1
  install -m 0755 "$BENCH_SRC/floor-early-init" "$1/usr/sbin/init" &&
    install -D -m 0755 "$BIN/svc-seedrng" "$1/usr/local/sbin/svc-seedrng" || {
    guard "$1"
    rm -rf "$1"
    return 1
  }
}
declare -A IMAGES=()
FAILED_VARIANTS=()
for v in "${VARIANTS[@]}"; do
  k=$(variant_key "$v")
  build=build_variant
  [ "$v" = floor-early ] && build=build_floor_early
  if tree=$(cached "tree-$v" "$k" $build "$v" "$BASE") &&
    img=$(cached "images-$v" "$k" build_images "$tree"); then
    IMAGES[$v]=$img
    say "$v: images in $img"
  else
    say "$v: building its tree or images failed (see $CACHE/tree-$v.log, $CACHE/images-$v.log)"
    FAILED_VARIANTS+=("$v: build failed: $(tail -n 2 "$CACHE/tree-$v.log" "$CACHE/images-$v.log" 2>/dev/null |
      grep -v '^==>' | tr '\n' ' ' | cut -c1-300 || true)")
  fi
done
say "trees and images ready after $(($(date +%s) - t_start)) s"

# ---------------------------------------------------------------- boots
APPEND="console=ttyS0 root=/dev/vda quiet panic=-1 printk.devkmsg=on svc-bench.poweroff=yes${BENCH_BOOT_APPEND:+ $BENCH_BOOT_APPEND}"
declare -A INIT_OF=([svc]=/usr/sbin/svc-init [openrc]=/sbin/init [runit]=/sbin/init [floor]=/sbin/init
  [floor-early]=/sbin/init)

# boot VARIANT RUN: one boot from a fresh copy of the pristine images; the
# serial log in $TMP/VARIANT-RUN.log. Sets RC (qemu's status) and WALL.
boot() {
  local v=$1 dir=$TMP/run-$1 log=$TMP/$1-$2.log pid d start seen=""
  local drives=()
  rm -rf "$dir"
  mkdir -p "$dir"
  for d in root data swap; do
    cp --reflink=auto --sparse=always "${IMAGES[$v]}/$d.img" "$dir/$d.img"
    drives+=(-drive "file=$dir/$d.img,if=virtio,format=raw")
  done
  : >"$log"
  start=$(date +%s.%N)
  timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -smp "$SMP" -m "$MEM_MB" -nic none -display none \
    -no-reboot -monitor none -serial "file:$log" -kernel "$KERNEL" -initrd "$INITRD" \
    -append "$APPEND init=${INIT_OF[$v]}" "${drives[@]}" </dev/null >"$log.qemu" 2>&1 &
  pid=$!
  at_exit "kill_child_tree $pid"
  # Once the probe has reported, the power-off gets BENCH_BOOT_SHUTDOWN
  # seconds; the figure is taken either way.
  while kill -0 "$pid" 2>/dev/null; do
    if [ -z "$seen" ] && grep -a -q -E 'bench-probe: (RESULT|FAILED)' "$log"; then seen=$SECONDS; fi
    if [ -n "$seen" ] && [ $((SECONDS - seen)) -ge "$SHUTDOWN" ]; then
      kill_child_tree "$pid"
      break
    fi
    sleep 0.5
  done
  RC=0
  wait "$pid" 2>/dev/null || RC=$?
  WALL=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  rm -rf "$dir"
}

rm -f "${CACHE:?}"/failed-boot-*.log "${CACHE:?}"/last-boot-*.log
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A FIGS=() DETAILS=() WALLS=() ORDERLY=() BOOT_FAILS=()
t_boots=$(date +%s)
for ((run = 1; run <= RUNS; run++)); do
  for v in "${VARIANTS[@]}"; do
    [ -n "${IMAGES[$v]:-}" ] || continue
    boot "$v" "$run"
    log=$TMP/$v-$run.log
    result=$(tr -d '\r' <"$log" | grep -a -m1 'bench-probe: RESULT' || true)
    fig=$(echo "$result" | sed -n 's/.*init_to_ready=\([0-9.]*\) s.*/\1/p')
    if [ -z "$fig" ]; then
      cp "$log" "$CACHE/failed-boot-$v-$run.log"
      why=$(tr -d '\r' <"$log" | grep -a -E 'bench-probe: (FAILED|cannot)|Kernel panic|Attempted to kill init|initramfs:|emergency' |
        head -n 2 | tr '\n' ' ' || true)
      if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then why="timed out after ${BOOT_TIMEOUT}s; $why"; fi
      BOOT_FAILS[$v]="${BOOT_FAILS[$v]:-}boot $run: no figure (qemu rc $RC): ${why:-see the serial log} (log: $CACHE/failed-boot-$v-$run.log); "
      say "$v boot $run/$RUNS: no figure (qemu rc $RC): ${why:-see $CACHE/failed-boot-$v-$run.log}"
      continue
    fi
    orderly=no
    if grep -a -q 'reboot: Power down' "$log"; then
      orderly=yes
      ORDERLY[$v]=$((${ORDERLY[$v]:-0} + 1))
    fi
    FIGS[$v]="${FIGS[$v]:-} $fig"
    WALLS[$v]="${WALLS[$v]:-} $WALL"
    DETAILS[$v]="${DETAILS[$v]:-}| $v | $run | $fig | $(echo "$result" | sed -n 's/.*s (\(.*\))$/\1/p') | $WALL | $orderly |
"
    say "$v boot $run/$RUNS: ${fig} s; wall ${WALL} s, power-off: $orderly"
    cp "$log" "$CACHE/last-boot-$v.log"
  done
done
t_boots=$(($(date +%s) - t_boots))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
median() {
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 }
    END { if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
range() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a / b }'; }
declare -A MED=()
for v in "${VARIANTS[@]}"; do
  # shellcheck disable=SC2086 # the figures are words
  [ -n "${FIGS[$v]:-}" ] && MED[$v]=$(median ${FIGS[$v]})
done
summary_md=""
for v in svc openrc runit floor floor-early; do
  [[ " ${VARIANTS[*]} " == *" $v "* ]] || continue
  if [ -n "${MED[$v]:-}" ]; then
    # shellcheck disable=SC2086
    n=$(echo ${FIGS[$v]} | wc -w)
    # shellcheck disable=SC2086
    summary_md+="| $v | ${MED[$v]} | $(range ${FIGS[$v]}) | $n of $RUNS | $(ratio "${MED[svc]:-}" "${MED[$v]}") | $(median ${WALLS[$v]}) |
"
  else
    summary_md+="| $v | — | — | 0 of $RUNS | — | — |
"
  fi
done
r_floor=$(ratio "${MED[svc]:-}" "${MED[floor]:-}")
r_runit=$(ratio "${MED[svc]:-}" "${MED[runit]:-}")
r_early=$(ratio "${MED[svc]:-}" "${MED[floor-early]:-}")
verdict=$(awk -v f="$r_floor" -v r="$r_runit" 'BEGIN {
  if (f == "—" || r == "—") { print "not measured (a variant gave no figure)"; exit }
  a = (f + 0 <= 1.2); b = (r + 0 <= 1 / 3)
  if (a && b) print "met"
  else if (a) print "partly met: within 1.2× the floor, but more than a third of runit'"'"'s"
  else if (b) print "partly met: at most a third of runit'"'"'s, but more than 1.2× the floor"
  else print "not met" }')
fails_md=""
for v in "${VARIANTS[@]}"; do
  [ -n "${BOOT_FAILS[$v]:-}" ] && fails_md+="- $v: ${BOOT_FAILS[$v]}
"
done
for f in "${FAILED_VARIANTS[@]}"; do fails_md+="- $f
"; done
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
qemu_ver=$(qemu-system-x86_64 --version | head -n1)
pkg_versions=$(for v in "${VARIANTS[@]}"; do
  [ -d "$CACHE/tree-$v-$(variant_key "$v")" ] || continue
  dpkg-query --admindir="$CACHE/tree-$v-$(variant_key "$v")/var/lib/dpkg" -W -f='${Package} ${Version}\n' \
    rsyslog cron openssh-server nginx-light udev sysvinit-core openrc runit runit-init runit-services libc6 \
    2>/dev/null || true
done | awk 'NF == 2' | sort -u | sed 's/^/- /')
svc_rev=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | head -n1)" ]; then
  svc_rev="$svc_rev (with uncommitted changes)"
fi
t_total=$(($(date +%s) - t_start))

sed -e "/^<!-- figures -->\$/,\$d" "$REPORT" >"$TMP/report.md" 2>/dev/null || : >"$TMP/report.md"
grep -q '^<!-- figures -->$' "$REPORT" 2>/dev/null || die "$REPORT lacks its '<!-- figures -->' line"
{
  cat "$TMP/report.md"
  cat <<EOF
<!-- figures -->
## Figures of the last run

Written by \`tools/bench-boot.sh\` on $(date -u '+%F %T UTC'); every run
rewrites this section. Init's share in seconds, from the hand-over to the
moment the probe saw all four daemons answer; ${RUNS} boots of each variant,
interleaved.

| variant | median (s) | range (s) | boots with a figure | svc's median ÷ this | wall per boot, median (s) |
|---|---:|---:|---:|---:|---:|
${summary_md}
Goal (svc at most 1.2× the floor and at most a third of runit's): svc ÷
floor = ${r_floor}, svc ÷ runit = ${r_runit}: **${verdict}**.

Against the floor that does the same early work (floor-early, the
cheapest script for it; docs/decisions.md): svc ÷ floor-early =
${r_early}.

${fails_md:+Boots or builds without a figure:

$fails_md}
Every boot (first answers in seconds after the hand-over, \`probe_start\`
when the probe itself started, \`polls\` its rounds; power-off: whether the
variant's own power-off reached "reboot: Power down" within
${SHUTDOWN} s of the result):

| variant | run | init's share (s) | first answers | wall (s) | power-off |
|---|---:|---:|---|---:|---|
$(for v in "${VARIANTS[@]}"; do printf '%s' "${DETAILS[$v]:-}"; done)

The bench took ${t_total} s (boots ${t_boots} s). Serial logs of each
variant's last boot: \`\$SVC_TEST_CACHE/bench-boot/last-boot-VARIANT.log\`.

## Machine

- CPU: ${cpu:-unknown}, $(nproc) cores; $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM
- host kernel: $(uname -r)
- load average (1/5/15 min): ${LOAD_BEFORE} before, ${LOAD_AFTER} after
- ${qemu_ver}, \`-accel tcg -smp ${SMP} -m ${MEM_MB}\`, no network card
- guest kernel: ${KVER} (Debian's cloud kernel, tests/system/install-deps.sh); command line \`${APPEND} init=…\`
- svc: ${svc_rev}, static builds (\`${RUST_TARGET}\`, release)

Guest packages:

${pkg_versions}
EOF
} >"$REPORT.new"
mv "$REPORT.new" "$REPORT"

echo
for v in "${VARIANTS[@]}"; do
  say "$v: ${FIGS[$v]:- no figure} s; median ${MED[$v]:-—} s"
done
say "svc ÷ floor = ${r_floor}, svc ÷ runit = ${r_runit} (goal ≤ 1.2 and ≤ 0.33): ${verdict}; svc ÷ floor-early = ${r_early}"
say "took ${t_total} s (boots ${t_boots} s); report: $REPORT"
[ -z "$fails_md" ] || exit 1
