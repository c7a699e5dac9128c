#!/bin/sh
# Stand-in for svc-manager in the system-test images (busybox sh), until the
# real manager replaces it. It does what svc-init expects of a manager:
# starts a few services, says when it is ready, and on SIGTERM stops its
# services and exits 0. svc-init's arguments (--services, --target, ...)
# are printed and otherwise ignored.
#
# Services:
#   - busybox syslogd -n
#   - a service that, on SIGTERM, prints "stand-in service: stopped on
#     SIGTERM" and writes $STANDIN_MARKER_DIR/service-stopped (default
#     /var/log)
#   - /etc/stand-in/after-ready, if present: run once after "ready" (the
#     tests put a poweroff request there)
#
# The ready line carries the guest's uptime, for the boot-time measurement.

MARKER_DIR=${STANDIN_MARKER_DIR:-/var/log}
say() { echo "stand-in manager: $*"; }

say "starting as pid $$ (args: $*)"

pids=""
start() {
  "$@" &
  pids="$pids $!"
  say "started $1 as pid $!"
}

sleeper=""
stop_all() {
  say "SIGTERM: stopping services"
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
  for p in $pids; do kill -TERM "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  say "stopped, exiting 0"
  exit 0
}
trap stop_all TERM

mkdir -p "$MARKER_DIR" 2>/dev/null
rm -f "$MARKER_DIR/service-stopped"

# syslogd wants /dev/log; skip it where /dev is read-only.
if [ -w /dev ]; then
  start busybox syslogd -n -O "$MARKER_DIR/messages"
fi

rm -f "$MARKER_DIR/service-armed"
start sh -c '
  trap "echo \"stand-in service: stopped on SIGTERM\"; echo stopped >\"$0/service-stopped\"; exit 0" TERM
  : >"$0/service-armed"
  while :; do sleep 1 & wait $!; done' "$MARKER_DIR"

# Ready only once the service has its trap: a test may send SIGTERM the
# moment it sees the ready line.
i=0
while [ ! -e "$MARKER_DIR/service-armed" ] && [ "$i" -lt 100 ]; do
  sleep 0.05
  i=$((i + 1))
done

read -r uptime _ </proc/uptime
echo "stand-in manager ready uptime=$uptime"

if [ -x /etc/stand-in/after-ready ]; then
  start /etc/stand-in/after-ready
fi

# Wait for SIGTERM: `wait` on a sleeper returns as soon as a trap is due.
while :; do
  sleep 3600 &
  sleeper=$!
  wait "$sleeper"
  kill "$sleeper" 2>/dev/null
done
