#!/usr/bin/env bash
# `make run`: boots the shipped system -- svc-init as PID 1 of a fresh PID
# and mount namespace (through a user namespace when not root) -- with
# every path under a temporary directory, so nothing touches the host's
# /run, /etc or /var/log. Shows the boot on the terminal, prints how to
# reach it from another terminal, and shuts it down in order on Ctrl-C (or
# `svcctl poweroff --init-pid PID`), then returns.
#
# The services are a demo directory assembled here: the shipped targets of
# services.d/ (sysinit, boot, default, rescue), those shipped services whose
# program exists on this host (busybox syslogd and crond rarely do outside
# Alpine), and demo services that run with what the host has:
#   heartbeat   a sh loop logging a line every few seconds
#   hello       a oneshot that logs once, before the others (wanted by boot)
#   web         python3 -m http.server on 127.0.0.1 (only if python3 exists)
#
# Environment:
#   SVC_BIN_DIR     the svc programs (default: the static build of `make`,
#                   target/TARGET/release with TARGET from
#                   tools/static-target.sh, or under $CARGO_TARGET_DIR)
#   SVC_RUN_DIR     use this (new or empty) directory instead of a fresh
#                   temporary one; it is kept afterwards
#   SVC_RUN_TARGET  the target to boot (default: default)
#   SVC_RUN_HTTP_PORT  web's port (default 0: any free port; see its log)
#   SVC_RUN_READY_SECONDS  how long to wait for the target (default 60)
#
# Exit status: 0 after an orderly power-off, 1 when something needed is
# missing or the system ended otherwise.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${SVC_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/$("$REPO_ROOT/tools/static-target.sh")/release}
TARGET=${SVC_RUN_TARGET:-default}
HTTP_PORT=${SVC_RUN_HTTP_PORT:-0}
READY_SECONDS=${SVC_RUN_READY_SECONDS:-60}

say() { echo "svc-run: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# --- what it needs -----------------------------------------------------------
missing=()
for p in svc-init svc-manager svc-supervise svcctl; do
  [ -x "$BIN_DIR/$p" ] || missing+=("$BIN_DIR/$p")
done
[ "${#missing[@]}" -eq 0 ] ||
  die "missing programs: ${missing[*]} (run \`make build\`, or point SVC_BIN_DIR at them)"
for c in unshare sh sleep; do
  command -v "$c" >/dev/null 2>&1 || die "missing command: $c (unshare is in util-linux)"
done
BIN_DIR=$(cd "$BIN_DIR" && pwd)
SVCCTL=$BIN_DIR/svcctl

UNSHARE=(unshare --pid --fork --kill-child --mount --mount-proc)
if [ "$(id -u)" -ne 0 ]; then
  UNSHARE=(unshare --user --map-root-user --pid --fork --kill-child --mount --mount-proc)
fi
if ! "${UNSHARE[@]}" true </dev/null >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    die "cannot create namespaces with \`${UNSHARE[*]}\`: unprivileged user namespaces are disabled here (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces); run as root"
  fi
  die "cannot create namespaces with \`${UNSHARE[*]}\`"
fi

# --- the directory -----------------------------------------------------------
if [ -n "${SVC_RUN_DIR:-}" ]; then
  mkdir -p "$SVC_RUN_DIR" || die "cannot create $SVC_RUN_DIR"
  DIR=$(cd "$SVC_RUN_DIR" && pwd)
  [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
  KEEP=yes
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/svc-run.XXXXXX") || die "cannot create a temporary directory"
  KEEP=no
fi
SERVICES=$DIR/services.d
ENABLED=$DIR/enabled
mkdir -p "$SERVICES" "$ENABLED/$TARGET" "$DIR/run" "$DIR/log" "$DIR/runtime-base"

UNSHARE_PID=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  # The PID namespace dies with its init; unshare --kill-child ends that
  # init if unshare itself is ended. Only our own child is signalled.
  if [ -n "$UNSHARE_PID" ] && kill -0 "$UNSHARE_PID" 2>/dev/null; then
    kill -KILL "$UNSHARE_PID" 2>/dev/null
    wait "$UNSHARE_PID" 2>/dev/null
  fi
  [ "$KEEP" = yes ] || rm -rf "$DIR"
}
trap cleanup EXIT

# The paths the shipped early services name (Makefile: PREFIX=/usr).
EARLY_INSTALLED=/usr/lib/svc/libexec/early
SEEDRNG_INSTALLED=/usr/lib/svc/libexec/svc-seedrng

# The first word of a declaration's `exec`, for the shipped services.
exec_program() {
  sed -n 's/^[[:space:]]*exec[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' "$1" | head -n 1
}

for f in "$REPO_ROOT"/services.d/*.ini; do
  name=$(basename "$f" .ini)
  if grep -q '^\[target\]' "$f"; then
    cp "$f" "$SERVICES/"
    continue
  fi
  case $name in *@) continue ;; esac # templates want things (a terminal, a user) a demo has not
  prog=$(exec_program "$f")
  if [ "$prog" = "$EARLY_INSTALLED" ]; then
    # The early services run the repository's script (as `make install`
    # points them at the installed one); in this namespace it sees a
    # container and does nothing, successfully.
    sed "s|$EARLY_INSTALLED|$REPO_ROOT/libexec/early|g" "$f" >"$SERVICES/$name.ini"
  elif [ "$prog" = "$SEEDRNG_INSTALLED" ]; then
    # The build's svc-seedrng; it too sees a container and does nothing.
    sed "s|$SEEDRNG_INSTALLED|$BIN_DIR/svc-seedrng|g" "$f" >"$SERVICES/$name.ini"
  elif [ -n "$prog" ] && [ -x "$prog" ]; then
    cp "$f" "$SERVICES/"
  else
    say "leaving out $name: ${prog:-its program} is not on this host"
  fi
done

cat >"$SERVICES/hello.ini" <<'EOF'
# demo (tools/run.sh): a oneshot that runs once, early
[service]
description = demo: says hello once
type = oneshot
exec = /bin/sh -c 'echo "hello from $(uname -n), pid $$"'

[dependencies]
wanted-by = boot
EOF
mkdir -p "$ENABLED/boot"
: >"$ENABLED/boot/hello"

cat >"$SERVICES/heartbeat.ini" <<'EOF'
# demo (tools/run.sh): a shell loop logging a heartbeat
[service]
description = demo: a line every 5 seconds
exec = /bin/sh -c 'n=0; while :; do n=$((n+1)); echo "heartbeat $n"; sleep 5; done'
stop-timeout = 2s

[dependencies]
after = boot
wanted-by = default
EOF
: >"$ENABLED/$TARGET/heartbeat"

if PYTHON=$(command -v python3); then
  cat >"$SERVICES/web.ini" <<EOF
# demo (tools/run.sh): a web server on 127.0.0.1 (port: see its log)
[service]
description = demo: python3 http.server on 127.0.0.1
exec = $PYTHON -u -m http.server --bind 127.0.0.1 --directory $SERVICES $HTTP_PORT
stop-timeout = 3s

[dependencies]
after = boot
wanted-by = default
EOF
  : >"$ENABLED/$TARGET/web"
else
  say "leaving out the web demo: python3 is not on this host"
fi

if ! check=$("$SVCCTL" check --services "$SERVICES" --enabled "$ENABLED" 2>&1); then
  echo "$check" >&2
  die "the demo declarations do not check"
fi

# --- boot --------------------------------------------------------------------
SOCK=$DIR/sock
say "booting $TARGET from $SERVICES (state in $DIR)"
# The manager finds the enablement directory and runtime base through its
# SVC_* variables; svc-init hands it the rest.
SVC_ENABLED=$ENABLED SVC_RUNTIME_BASE=$DIR/runtime-base \
  "${UNSHARE[@]}" "$BIN_DIR/svc-init" \
  --services "$SERVICES" --target "$TARGET" --socket "$SOCK" \
  --runtime-dir "$DIR/run" --log-dir "$DIR/log" --initctl "$DIR/initctl" \
  </dev/null &
UNSHARE_PID=$!

# Ctrl-C reaches the whole foreground group; what matters is that init
# hears it (as PID 1 of a container SIGINT means power off), so it is also
# sent to init explicitly. The wait below then goes on until it is done.
INIT_PID=""
# shellcheck disable=SC2317 # run by the INT/TERM/HUP trap
request_poweroff() {
  [ -n "$INIT_PID" ] && kill -USR2 "$INIT_PID" 2>/dev/null
  say "powering off (in order; a second Ctrl-C does not cut it short)"
}
trap request_poweroff INT TERM HUP

for _ in $(seq 1 50); do
  INIT_PID=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null)
  INIT_PID=${INIT_PID%% *}
  [ -n "$INIT_PID" ] && break
  kill -0 "$UNSHARE_PID" 2>/dev/null || break
  sleep 0.1
done

ready=no
for ((i = 0; i < READY_SECONDS * 10; i++)); do
  kill -0 "$UNSHARE_PID" 2>/dev/null || break
  if "$SVCCTL" --socket "$SOCK" status "$TARGET" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  sleep 0.1
done
if [ "$ready" = yes ]; then
  cat >&2 <<EOF
svc-run: ready: target $TARGET is up; svc-init is pid $INIT_PID on this host
svc-run: from another terminal:
svc-run:   $SVCCTL --socket $SOCK status
svc-run:   $SVCCTL --socket $SOCK log -f heartbeat
svc-run:   $SVCCTL --socket $SOCK stop heartbeat
svc-run:   $SVCCTL poweroff --init-pid $INIT_PID
svc-run: logs are in $DIR/log; Ctrl-C here powers off
EOF
elif kill -0 "$UNSHARE_PID" 2>/dev/null; then
  say "target $TARGET is not up after ${READY_SECONDS}s; still running (Ctrl-C powers off):"
  say "  $SVCCTL --socket $SOCK status"
fi

# `wait` returns early when a trapped signal arrives: wait again until
# the namespace's init is gone.
while :; do
  wait "$UNSHARE_PID"
  rc=$?
  kill -0 "$UNSHARE_PID" 2>/dev/null || break
done
UNSHARE_PID=""
trap - INT TERM HUP

# unshare reports its child's death by signal as its own: reboot(2) with
# POWER_OFF or HALT ends PID 1 of a namespace with SIGINT (130), and
# without CAP_SYS_BOOT svc-init exits 0 itself.
case $rc in
0 | 130)
  say "powered off"
  exit 0
  ;;
129)
  say "rebooted (not restarted here)"
  exit 0
  ;;
*)
  say "svc-init ended with status $rc"
  exit 1
  ;;
esac
