#!/usr/bin/env bash
# svc-init as the entrypoint of a Docker-style image, run by podman with runc
# (crun fails on these hosts) and rlimits the host can grant. The image is
# the busybox tree of make_rootfs (lib.sh: the static svc-init,
# svc-manager, svc-supervise, svcctl) with its declarations in
# /srv/svc/services.d -- not one of the default directories, so that the
# plain entrypoint has none -- imported with
#   ENTRYPOINT ["/sbin/svc-init", "--", "/bin/main-cmd"]
# and run with
#   --entrypoint '["/sbin/svc-init", "--services", "/srv/svc/services.d", "--", "/bin/main-cmd"]'
# for the real svc-manager to run the default target's services (syslogd,
# crond, svctest, svctest-hook) beside the main command.
# Podman keeps everything (images, containers, storage) under a temporary
# --root/--runroot with the vfs driver, so the host's podman state is never
# touched and cleanup is a directory removal.
#
# Checks:
#   podman-exit-status          `podman run IMG exit 3` exits 3
#   podman-exit-signal          main command killed by SIGKILL: exits 137
#   podman-exit-status-with-services
#                               `exit 3` with the services entrypoint: 3,
#                               even though the manager is still starting
#   podman-stop-orderly         `podman stop`: the main command's TERM trap
#                               runs, the container exits with its status (7),
#                               well inside the 10 s stop timeout; no manager
#   podman-stop-with-services   the same with the services entrypoint: the
#                               manager reached the default target, and on
#                               stop the svctest service (run by its
#                               svc-supervise) wrote its on-SIGTERM marker
#                               and the manager reported syslogd, crond and
#                               svctest stopped (as an entrypoint svc-init
#                               is quiet: the manager's exit status is not
#                               on the log); svc-init left podman's writable
#                               /run alone (no `cannot mount ... on /run`)
#   podman-container-file       svc-init wrote $container ("podman") to
#                               /run/systemd/container
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT=10
ALL_CHECKS=(podman-exit-status podman-exit-signal podman-exit-status-with-services
  podman-stop-orderly podman-stop-with-services podman-container-file)
SERVICES_DIR=/srv/svc/services.d
WITH_SERVICES=(--entrypoint "[\"/sbin/svc-init\", \"--services\", \"$SERVICES_DIR\", \"--\", \"/bin/main-cmd\"]")

missing=$(missing_cmds podman runc tar busybox readelf)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "these podman tests run as root"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
not_static=$(not_static_programs)
[ -z "$not_static" ] || fail_all "not statically linked: $not_static"

make_tmp
podman_private 60
IMAGE=localhost/svc-systest:$$

ROOT=$TMP/rootfs
make_rootfs "$ROOT" "$SERVICES_DIR" || fail_all "could not make the tree"
if ! out=$(tar -C "$ROOT" -c . | pm import \
  --change 'ENTRYPOINT ["/sbin/svc-init", "--", "/bin/main-cmd"]' - "$IMAGE" 2>&1); then
  fail_all "podman import failed: $(echo "$out" | tail -n 3 | tr '\n' '|')"
fi
rm -rf "$ROOT"

RUN_ARGS=(--network none)

# (1) the main command's exit status
out=$(pm run --rm "${RUN_ARGS[@]}" "$IMAGE" exit 3 2>&1)
rc=$?
if [ "$rc" -eq 3 ]; then
  pass podman-exit-status
else
  fail podman-exit-status "podman run exited $rc, want 3: $(echo "$out" | tail -n 4 | tr '\n' '|')"
fi

# (2) killed by a signal: 128+N
out=$(pm run --rm "${RUN_ARGS[@]}" "$IMAGE" kill-self 9 2>&1)
rc=$?
if [ "$rc" -eq 137 ]; then
  pass podman-exit-signal
else
  fail podman-exit-signal "podman run exited $rc, want 137 (128+SIGKILL): $(echo "$out" | tail -n 4 | tr '\n' '|')"
fi

# (3) the same with services beside the main command, which exits at once
out=$(pm run --rm "${RUN_ARGS[@]}" "${WITH_SERVICES[@]}" "$IMAGE" exit 3 2>&1)
rc=$?
if [ "$rc" -eq 3 ]; then
  pass podman-exit-status-with-services
else
  fail podman-exit-status-with-services "podman run exited $rc, want 3: $(echo "$out" | tail -n 6 | tr '\n' '|')"
fi

# stop_case NAME WANT-SERVICE-MARKER [extra run args...]: run detached with
# main-cmd wait-term, podman stop once it is ready, and judge.
stop_case() {
  local name=$1 want_service=$2
  shift 2
  local out_dir=$TMP/$name-out log_dir=$TMP/$name-log cname=svc-systest-$name-$$
  mkdir -p "$out_dir" "$log_dir"
  if ! out=$(pm run -d --name "$cname" "${RUN_ARGS[@]}" -v "$out_dir:/out" \
    -v "$log_dir:/var/log" "$@" "$IMAGE" wait-term 2>&1); then
    fail "$name" "podman run -d failed: $(echo "$out" | tail -n 3 | tr '\n' '|')"
    return
  fi
  # logs go to a file first: `podman logs | grep -q` would fail under
  # pipefail whenever grep stops reading early.
  local i ready=no clog=$TMP/$name.log
  for ((i = 0; i < 150; i++)); do
    pm logs "$cname" >"$clog" 2>&1
    # With a manager, wait for its hook's line: by then the default
    # target is reached and svctest has its trap.
    if grep -a -q 'main-cmd: ready' "$clog" &&
      { [ "$want_service" = no ] || grep -a -q 'svctest: /run/systemd/container=' "$clog"; }; then
      ready=yes
      break
    fi
    [ "$(pm inspect --format '{{.State.Running}}' "$cname" 2>/dev/null)" = true ] || break
    sleep 0.1
  done
  local t0 t1 secs status logs manager_ready=no
  t0=$(date +%s.%N)
  pm stop -t "$STOP_TIMEOUT" "$cname" >/dev/null 2>&1
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  status=$(pm inspect --format '{{.State.ExitCode}}' "$cname" 2>/dev/null)
  pm logs "$cname" >"$clog" 2>&1
  grep -a -q 'svc-manager .* on /' "$clog" && manager_ready=yes
  if [ "$want_service" = yes ]; then
    CONTAINER_FILE=$(grep -a -m1 'svctest: /run/systemd/container=' "$clog")
  fi
  logs=$(grep -a -E 'svc-init|svc-manager|main-cmd|svctest|reached|Stopping|ERROR|WARN' "$clog" |
    grep -v 'svctest status:' | tail -n 16 | tr '\n' '|')
  [ -n "${SVC_SYSTEST_VERBOSE:-}" ] && echo "# $name logs: $logs"
  pm rm -f "$cname" >/dev/null 2>&1
  echo "# podman: $name: podman stop took $secs s, exit status ${status:-?}"
  if [ "$ready" != yes ]; then
    fail "$name" "never ready (main-cmd's ready line, and with a manager its hook's line) (exit status ${status:-?}): $logs"
  elif [ "$want_service" = yes ] && [ "$manager_ready" != yes ]; then
    fail "$name" "no manager beside the command (no 'svc-manager ... on SOCKET' line): $logs"
  elif [ "$want_service" = no ] && [ "$manager_ready" = yes ]; then
    fail "$name" "a manager ran although the image has no declarations: $logs"
  elif [ "$status" != 7 ]; then
    fail "$name" "exit status ${status:-unknown}, want 7 (main-cmd's status after its TERM trap; 137 means podman had to SIGKILL): $logs"
  elif [ ! -e "$out_dir/main-term" ]; then
    fail "$name" "main-cmd's TERM trap did not run (no /out/main-term): $logs"
  elif [ "$want_service" = yes ] && [ ! -e "$log_dir/service-stopped" ]; then
    fail "$name" "the svctest service did not get its SIGTERM (no marker): $logs"
  elif [ "$want_service" = yes ] && [ -n "$(services_not_stopped "$clog" syslogd crond svctest)" ]; then
    fail "$name" "the manager did not report the stop of: $(services_not_stopped "$clog" syslogd crond svctest): $logs"
  elif grep -a -q 'cannot mount .* on /run' "$clog"; then
    # podman's /run is a usable writable directory: svc-init leaves it.
    fail "$name" "svc-init tried to mount over podman's usable /run: $(grep -a -m1 'cannot mount .* on /run' "$clog")"
  elif awk -v s="$secs" -v t="$STOP_TIMEOUT" 'BEGIN { exit !(s >= t) }'; then
    fail "$name" "podman stop took $secs s, not inside its ${STOP_TIMEOUT} s timeout"
  else
    pass "$name"
  fi
}

stop_case podman-stop-orderly no
CONTAINER_FILE=""
stop_case podman-stop-with-services yes "${WITH_SERVICES[@]}"

if [ "$CONTAINER_FILE" = "svctest: /run/systemd/container=podman" ]; then
  pass podman-container-file
else
  fail podman-container-file "/run/systemd/container does not say podman (the svctest-hook service said: ${CONTAINER_FILE:-nothing})"
fi

summary
