#!/bin/sh
# Run once by the stand-in manager after it is ready: prints what
# /run/systemd/container holds, then performs the request
# a system test asked for, named by /etc/stand-in/action in the tree or by
# `svctest.after-ready=ACTION` on the kernel command line (qemu):
#   poweroff | reboot | halt   busybox's applet (a signal to PID 1)
#   signal-N                   signal N to PID 1 (e.g. signal-39: reboot)
#   initctl-R                  a sysvinit `telinit R` record to /run/initctl
# What svc-init told systemd-aware tools about the container, if anything.
if [ -r /run/systemd/container ]; then
  echo "svctest: /run/systemd/container=$(cat /run/systemd/container)"
else
  echo "svctest: /run/systemd/container=(missing)"
fi

action=
if [ -r /etc/stand-in/action ]; then
  read -r action </etc/stand-in/action
else
  for w in $(cat /proc/cmdline 2>/dev/null); do
    case $w in svctest.after-ready=*) action=${w#svctest.after-ready=} ;; esac
  done
fi
[ -n "$action" ] || exit 0
sleep 0.5
echo "svctest: requesting $action"
case $action in
poweroff | reboot | halt) exec "$action" ;;
signal-*) exec kill -s "${action#signal-}" 1 ;;
initctl-?)
  # struct init_request: magic 0x03091969, cmd 1 (INIT_CMD_RUNLVL),
  # runlevel, sleeptime 0 (native little-endian ints), 368 bytes of data;
  # sent in one write, as telinit does.
  rec=/tmp/initctl-request
  level=$(printf %d "'${action#initctl-}")
  {
    printf '\151\031\011\003\001\000\000\000'
    printf "\\$(printf %03o "$level")\\000\\000\\000"
    printf '\000\000\000\000'
    head -c 368 /dev/zero
  } >"$rec"
  exec dd if="$rec" of=/run/initctl bs=384 count=1 2>/dev/null
  ;;
*) echo "svctest: unknown action $action" ;;
esac
