#!/usr/bin/env bash
# contrib/Containerfile, built and run by podman (runc, rlimits the host can
# grant, private --root/--runroot as in podman.sh). The build context holds
# the static svc programs (lib.sh's build), a static busybox for the test's
# commands and service, and a services directory with one service, `demo`,
# which prints a line and sleeps (output inherited: it reaches the
# container's log).
#
# Checks:
#   containerfile-build         `podman build -f contrib/Containerfile` of the
#                               context succeeds
#   containerfile-cmd-status    `podman run IMG CMD` where CMD waits for
#                               `svcctl status demo` to say up, then exits 3:
#                               the container exits 3 (not 9: demo came up)
#   containerfile-service-ran   that run's log has the demo service's line
#   containerfile-default-cmd   the default CMD (svcctl watch, supervised)
#                               reports the state changes of a `podman exec
#                               ... svcctl restart demo`; `podman stop` ends the
#                               container with status 0 inside its timeout,
#                               the manager having reported demo stopped
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT=10
ALL_CHECKS=(containerfile-build containerfile-cmd-status containerfile-service-ran
  containerfile-default-cmd)
DEMO_LINE='demo service: running as pid'

missing=$(missing_cmds podman runc busybox readelf)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "these podman tests run as root"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
SVC_NOTIFY_BIN=$(dirname "$SVC_SUPERVISE_BIN")/svc-notify
not_static=$(not_static_programs)
is_static "$SVC_NOTIFY_BIN" || not_static="$not_static $SVC_NOTIFY_BIN"
BUSYBOX=$(command -v busybox)
is_static "$BUSYBOX" || not_static="$not_static $BUSYBOX"
[ -z "${not_static// /}" ] || fail_all "not statically linked: $not_static"

make_tmp
podman_private 120
IMAGE=localhost/svc-containerfile:$$

# The context, laid out as contrib/Containerfile says.
CTX=$TMP/context
mkdir -p "$CTX/sbin" "$CTX/bin" "$CTX/services.d"
cp "$SVC_INIT_BIN" "$SVC_MANAGER_BIN" "$SVC_SUPERVISE_BIN" "$SVC_NOTIFY_BIN" "$CTX/sbin/"
cp "$SVCCTL_BIN" "$BUSYBOX" "$CTX/bin/"
cat >"$CTX/services.d/demo.ini" <<'EOF'
[service]
description = containerfile test service
exec = /bin/busybox sh -c 'echo "demo service: running as pid $$"; exec /bin/busybox sleep 1000'
stop-timeout = 3s

[logging]
output = inherit
EOF
# Enabled through its own target membership: the default target wants it.
cat >"$CTX/services.d/default.ini" <<'EOF'
[target]
description = containerfile test target

[dependencies]
wants = demo
EOF

# (1) build
if out=$(pm build -q -f "$REPO_ROOT/contrib/Containerfile" -t "$IMAGE" "$CTX" 2>&1); then
  pass containerfile-build
else
  fail containerfile-build "podman build failed: $(echo "$out" | tail -n 4 | tr '\n' '|')"
  for c in "${ALL_CHECKS[@]:1}"; do fail "$c" "no image"; done
  summary
  exit 1
fi

RUN_ARGS=(--network none)

# (2)+(3) a command of our own: waits (at most 30 s) for the demo service,
# then exits 3.
# shellcheck disable=SC2016 # expanded by the container's shell
WAIT_CMD='i=0; until /bin/svcctl status demo >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 300 ] || exit 9; /bin/busybox sleep 0.1; done; exit 3'
out=$(pm run --rm "${RUN_ARGS[@]}" "$IMAGE" /bin/busybox sh -c "$WAIT_CMD" 2>&1)
rc=$?
if [ "$rc" -eq 3 ]; then
  pass containerfile-cmd-status
elif [ "$rc" -eq 9 ]; then
  fail containerfile-cmd-status "demo never came up (the command exited 9): $(echo "$out" | tail -n 6 | tr '\n' '|')"
else
  fail containerfile-cmd-status "podman run exited $rc, want 3: $(echo "$out" | tail -n 6 | tr '\n' '|')"
fi
if grep -a -q "$DEMO_LINE" <<<"$out"; then
  pass containerfile-service-ran
else
  fail containerfile-service-ran "no '$DEMO_LINE' line in the container's output: $(echo "$out" | tail -n 6 | tr '\n' '|')"
fi

# (4) the default CMD, stopped by podman stop
cname=svc-containerfile-$$
clog=$TMP/default-cmd.log
if ! out=$(pm run -d --name "$cname" "${RUN_ARGS[@]}" "$IMAGE" 2>&1); then
  fail containerfile-default-cmd "podman run -d failed: $(echo "$out" | tail -n 3 | tr '\n' '|')"
else
  # The manager is up once the default target is reached; the default
  # command (which retries while the manager starts) is up once it reports
  # the state changes of a restart of demo.
  ready=no
  for ((i = 0; i < 100; i++)); do
    pm logs "$cname" >"$clog" 2>&1
    grep -a -q 'target default reached' "$clog" && break
    [ "$(pm inspect --format '{{.State.Running}}' "$cname" 2>/dev/null)" = true ] || break
    sleep 0.2
  done
  for ((i = 0; i < 20; i++)); do
    pm exec "$cname" /bin/svcctl restart demo >/dev/null 2>&1
    sleep 0.5
    pm logs "$cname" >"$clog" 2>&1
    if grep -a -q -E '^demo (stopping|down|starting|running|ready)' "$clog" &&
      grep -a -q "$DEMO_LINE" "$clog"; then
      ready=yes
      break
    fi
    [ "$(pm inspect --format '{{.State.Running}}' "$cname" 2>/dev/null)" = true ] || break
  done
  t0=$(date +%s.%N)
  pm stop -t "$STOP_TIMEOUT" "$cname" >/dev/null 2>&1
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  status=$(pm inspect --format '{{.State.ExitCode}}' "$cname" 2>/dev/null)
  pm logs "$cname" >"$clog" 2>&1
  pm rm -f "$cname" >/dev/null 2>&1
  logs=$(tail -n 12 "$clog" | tr '\n' '|')
  echo "# containerfile: podman stop took $secs s, exit status ${status:-?}"
  if [ "$ready" != yes ]; then
    fail containerfile-default-cmd "the default command never reported a state change of demo (or demo never printed its line): $logs"
  elif [ "$status" != 0 ]; then
    fail containerfile-default-cmd "exit status ${status:-unknown}, want 0 (137: podman had to SIGKILL): $logs"
  elif [ -n "$(services_not_stopped "$clog" demo)" ]; then
    fail containerfile-default-cmd "the manager did not report demo stopped: $logs"
  elif awk -v s="$secs" -v t="$STOP_TIMEOUT" 'BEGIN { exit !(s >= t) }'; then
    fail containerfile-default-cmd "podman stop took $secs s, not inside its ${STOP_TIMEOUT} s timeout"
  else
    pass containerfile-default-cmd
  fi
fi

summary
