#!/usr/bin/env bash
# Full-system boots of svc-init as PID 1 under qemu (software emulation):
# a Debian cloud kernel (see install-deps.sh) and an initramfs holding
# busybox-static, a static svc-init as /sbin/init and the stand-in manager.
#
# Checks, each read off the serial console log:
#   qemu-boot-manager-ready     svc-init starts the manager, which gets ready
#   qemu-poweroff               busybox `poweroff` (SIGUSR2 to PID 1), sent by
#                               a guest script once the manager is ready:
#                               the manager stops its services, then
#                               "reboot: Power down"
#   qemu-ctrl-alt-del-reboot    `sendkey ctrl-alt-delete` on the qemu monitor:
#                               orderly stop, then "reboot: Restarting system"
#   qemu-missing-manager        no manager in the image: svc-init's emergency
#                               message on the console, no kernel panic, a
#                               shell that runs a typed command, and leaving
#                               it makes svc-init try the manager again
#   qemu-cmdline-manager-target the same image booted with
#                               `svc.manager=/opt/alt/manager svc.target=rescue`:
#                               that manager runs with `--target rescue`, and
#                               poweroff works
# and prints the boot-to-ready time (kernel "Run /sbin/init" to the stand-in
# manager's ready line, both in guest uptime seconds).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNEL=${SVC_TEST_KERNEL:-$SVC_TEST_CACHE/kernel/vmlinuz}
BOOT_TIMEOUT=${SVC_QEMU_TIMEOUT:-60}
# pr_info is needed for "Run /sbin/init as init process" and its timestamp.
APPEND_BASE="console=ttyS0 panic=-1 printk.time=1 loglevel=7 rdinit=/sbin/init"
# What svc-init prints when the manager cannot run (svc-init/src/init.rs,
# tend_manager): "svc-init: PATH cannot run: starting an emergency shell on
# the console; leave it to try again".
EMERGENCY_RE=${SVC_EMERGENCY_RE:-'svc-init: .* cannot run: starting an emergency shell'}

ALL_CHECKS=(qemu-boot-manager-ready qemu-poweroff qemu-ctrl-alt-del-reboot qemu-missing-manager
  qemu-cmdline-manager-target)

fail_all() {
  local c
  for c in "${ALL_CHECKS[@]}"; do fail "$c" "$*"; done
  summary
  exit 1
}

missing=$(missing_cmds qemu-system-x86_64 busybox cpio gzip socat readelf timeout)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "needs root (mknod /dev/console for the initramfs)"
[ -r "$KERNEL" ] || fail_all "no kernel at $KERNEL (run tests/system/install-deps.sh)"
is_static "$(command -v busybox)" || fail_all "busybox is not static (install busybox-static)"
build_svc_init || fail_all "svc-init does not build (static, $RUST_TARGET): $BUILD_ERROR"
is_static "$SVC_INIT_BIN" || fail_all "$SVC_INIT_BIN is not statically linked"

make_tmp

# make_initramfs OUT [no-manager]
make_initramfs() {
  local out=$1 variant=${2:-} root
  root=$(mktemp -d "$TMP/root.XXXXXX")
  make_rootfs "$root"
  # The kernel opens /dev/console for init's stdio before anything mounts
  # devtmpfs; without the node PID 1 has no console.
  mknod -m 600 "$root/dev/console" c 5 1
  mknod -m 666 "$root/dev/null" c 1 3
  if [ "$variant" = no-manager ]; then
    # Only where svc.manager= on the kernel command line points.
    mkdir -p "$root/opt/alt"
    mv "$root/sbin/svc-manager" "$root/opt/alt/manager"
  fi
  (cd "$root" && find . -print0 | cpio -o -0 -H newc -R 0:0 --quiet) | gzip -1 >"$out"
  rm -rf "$root"
}

QEMU_PID=""
# start_qemu SERIAL-ARGS LOG INITRD APPEND [extra qemu args...]: boots in the
# background; SERIAL-ARGS is "file" (serial console to LOG) or "socket:PATH"
# (a unix socket the test can type into, with the output also logged to LOG).
start_qemu() {
  local serial=$1 log=$2 initrd=$3 append=$4
  shift 4
  local serial_args=(-serial "file:$log")
  if [ "${serial#socket:}" != "$serial" ]; then
    serial_args=(-chardev "socket,id=con,path=${serial#socket:},server=on,wait=off,logfile=$log"
      -serial chardev:con)
  fi
  : >"$log"
  timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -m 256 -nic none \
    -display none -no-reboot "${serial_args[@]}" -kernel "$KERNEL" \
    -initrd "$initrd" -append "$append" "$@" </dev/null >"$log.qemu" 2>&1 &
  QEMU_PID=$!
  at_exit "kill_child_tree $QEMU_PID"
}

# wait_qemu: wait for the background qemu; returns its status (124: timeout).
wait_qemu() {
  local rc=0
  wait "$QEMU_PID" || rc=$?
  return "$rc"
}

# stop_qemu: end a qemu the test no longer needs (timeout passes SIGTERM on).
stop_qemu() {
  kill -TERM "$QEMU_PID" 2>/dev/null
  wait_pid_gone "$QEMU_PID" 10 || kill_tree "$QEMU_PID"
  wait_qemu
}

# explain LOG: what went wrong, on one line, for a FAIL reason: a crash of
# PID 1 if there was one, else svc-init's last lines, else the log's tail.
explain() {
  local crash
  crash=$(grep -E 'init\[1\]: segfault|svc-init\[[0-9]+\]: segfault|Kernel panic|Attempted to kill init' "$1" 2>/dev/null | head -n 3)
  if [ -n "$crash" ]; then
    echo "$crash"
  elif grep -q 'svc-init:' "$1" 2>/dev/null; then
    grep -E 'svc-init:|stand-in|svctest' "$1" | tail -n 6
  else
    tail -n 6 "$1" 2>/dev/null
  fi | tr -d '\r' | tr '\n' '|' | cut -c1-500
}

boot_to_ready() {
  awk '
    /Run \/sbin\/init as init process/ {
      if (match($0, /\[ *[0-9]+\.[0-9]+\]/)) run = substr($0, RSTART + 1, RLENGTH - 2) + 0
    }
    /stand-in manager ready uptime=/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^uptime=/) { sub(/uptime=/, "", $i); ready = $i + 0 }
    }
    END { if (run > 0 && ready > 0) printf "%.2f", ready - run }' "$1"
}

INITRD=$TMP/initrd.gz
INITRD_NOMGR=$TMP/initrd-no-manager.gz
make_initramfs "$INITRD"
make_initramfs "$INITRD_NOMGR" no-manager

# (a) boot, manager ready, poweroff from a guest script.
LOG_A=$TMP/poweroff.log
start=$(date +%s.%N)
start_qemu file "$LOG_A" "$INITRD" "$APPEND_BASE svctest.after-ready=poweroff" -monitor none
wait_qemu
rc_a=$?
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
if grep -q 'stand-in manager ready' "$LOG_A"; then
  pass qemu-boot-manager-ready
  t=$(boot_to_ready "$LOG_A")
  echo "# qemu: boot-to-ready ${t:-?} s (kernel 'Run /sbin/init' to manager ready, guest clock); whole boot+poweroff ${wall} s wall"
else
  fail qemu-boot-manager-ready "no 'stand-in manager ready' on the console (qemu rc $rc_a): $(explain "$LOG_A")"
fi
if [ "$rc_a" -eq 124 ] || [ "$rc_a" -eq 137 ]; then
  fail qemu-poweroff "qemu still running after ${BOOT_TIMEOUT}s: $(explain "$LOG_A")"
elif ! grep -q 'reboot: Power down' "$LOG_A"; then
  fail qemu-poweroff "no 'reboot: Power down' (qemu rc $rc_a): $(explain "$LOG_A")"
elif ! grep -q 'stand-in service: stopped on SIGTERM' "$LOG_A"; then
  fail qemu-poweroff "powered off without the orderly stop of the manager's services: $(explain "$LOG_A")"
elif ! grep -q 'stand-in manager: stopped, exiting 0' "$LOG_A"; then
  fail qemu-poweroff "powered off without the manager's orderly exit: $(explain "$LOG_A")"
else
  pass qemu-poweroff
fi

# (b) Ctrl-Alt-Del through the qemu monitor reboots.
LOG_B=$TMP/cad.log
MON=$TMP/mon.sock
start_qemu file "$LOG_B" "$INITRD" "$APPEND_BASE" -monitor "unix:$MON,server=on,wait=off"
if wait_for_text "$LOG_B" 'stand-in manager ready' "$BOOT_TIMEOUT" "$QEMU_PID"; then
  # The manager is up (its service armed), so svc-init has long disabled
  # the kernel's own Ctrl-Alt-Del reboot.
  printf 'sendkey ctrl-alt-delete\n' | socat -t 2 - "UNIX-CONNECT:$MON" >/dev/null 2>&1
  wait_qemu
  rc_b=$?
  if [ "$rc_b" -eq 124 ] || [ "$rc_b" -eq 137 ]; then
    fail qemu-ctrl-alt-del-reboot "qemu still running after ${BOOT_TIMEOUT}s: $(explain "$LOG_B")"
  elif ! grep -q 'reboot: Restarting system' "$LOG_B"; then
    fail qemu-ctrl-alt-del-reboot "no 'reboot: Restarting system' (qemu rc $rc_b): $(explain "$LOG_B")"
  elif ! grep -q 'stand-in service: stopped on SIGTERM' "$LOG_B"; then
    fail qemu-ctrl-alt-del-reboot "rebooted without the orderly stop (kernel Ctrl-Alt-Del not disabled?): $(explain "$LOG_B")"
  else
    pass qemu-ctrl-alt-del-reboot
  fi
else
  stop_qemu
  fail qemu-ctrl-alt-del-reboot "manager never got ready: $(explain "$LOG_B")"
fi

# (c) Missing manager: the emergency message, no panic, and a shell that
# answers on the console; leaving it makes svc-init try the manager again.
LOG_C=$TMP/no-manager.log
CON=$TMP/console.sock
start_qemu "socket:$CON" "$LOG_C" "$INITRD_NOMGR" "$APPEND_BASE" -monitor none
if wait_for_text "$LOG_C" "$EMERGENCY_RE" "$BOOT_TIMEOUT" "$QEMU_PID"; then
  sleep 1
  # The typed line echoes as "shell-$((6*7))-works"; only a shell prints 42.
  printf 'echo shell-$((6*7))-works\n' | socat -t 1 - "UNIX-CONNECT:$CON" >/dev/null 2>&1
  wait_for_text "$LOG_C" 'shell-42-works' 15 "$QEMU_PID"
  shell_ok=$?
  printf 'exit\n' | socat -t 1 - "UNIX-CONNECT:$CON" >/dev/null 2>&1
  wait_for_text "$LOG_C" 'emergency shell ended' 15 "$QEMU_PID"
  retry_ok=$?
  stop_qemu
  if grep -q 'Attempted to kill init' "$LOG_C"; then
    fail qemu-missing-manager "PID 1 died (kernel panic): $(explain "$LOG_C")"
  elif [ "$shell_ok" -ne 0 ]; then
    fail qemu-missing-manager "emergency message shown, but no shell answered on the console: $(explain "$LOG_C")"
  elif [ "$retry_ok" -ne 0 ]; then
    fail qemu-missing-manager "leaving the emergency shell did not make svc-init try the manager again: $(explain "$LOG_C")"
  else
    pass qemu-missing-manager
    echo "# qemu: emergency message: $(grep -E "$EMERGENCY_RE" "$LOG_C" | head -n1 | tr -d '\r')"
  fi
else
  stop_qemu
  fail qemu-missing-manager "no line matching /$EMERGENCY_RE/: $(explain "$LOG_C")"
fi

# (d) The kernel command line names the manager and the target.
LOG_D=$TMP/cmdline.log
start_qemu file "$LOG_D" "$INITRD_NOMGR" \
  "$APPEND_BASE svc.manager=/opt/alt/manager svc.target=rescue svctest.after-ready=poweroff" -monitor none
wait_qemu
rc_d=$?
if ! grep -q 'stand-in manager ready' "$LOG_D"; then
  fail qemu-cmdline-manager-target "svc.manager=/opt/alt/manager did not start that manager (qemu rc $rc_d): $(explain "$LOG_D")"
elif ! grep -q 'stand-in manager: starting .*args: .*--target rescue' "$LOG_D"; then
  fail qemu-cmdline-manager-target "svc.target=rescue did not reach the manager as --target rescue: $(grep 'stand-in manager: starting' "$LOG_D" | tr -d '\r')"
elif ! grep -q 'reboot: Power down' "$LOG_D"; then
  fail qemu-cmdline-manager-target "no 'reboot: Power down' (qemu rc $rc_d): $(explain "$LOG_D")"
else
  pass qemu-cmdline-manager-target
fi

[ -n "${SVC_KEEP_LOGS:-}" ] && cp "$LOG_A" "$LOG_B" "$LOG_C" "$LOG_D" "$SVC_KEEP_LOGS"/ 2>/dev/null
summary
