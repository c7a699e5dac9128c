#!/usr/bin/env bash
# Runs every system test suite, each bounded by a timeout, and prints one
# line per check (PASS/FAIL) and, last, "N passed, M failed". Exits 1 if any
# check failed. Needs root and what install-deps.sh installs.
#
#   tests/system/run-all.sh                 all suites
#   tests/system/run-all.sh qemu-boot ...   only the named suites
#
# Environment: SVC_TEST_CACHE (downloads, default /var/cache/svc-tests),
# CARGO_TARGET_DIR (default target-system), SVC_INIT_PREBUILT,
# SVC_MANAGER_PREBUILT, SVC_SUPERVISE_PREBUILT, SVCCTL_PREBUILT (use these
# binaries; all four given: no build), SVC_KEEP_LOGS=DIR (copy guest logs
# there).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# suite name and its time bound in seconds
# disk-boot's bound covers a first run's debootstrap (later runs use the
# cached tree and take well under a minute per variant); so does import's
# (it uses bench-boot's tree when there is one).
SUITES=(static-init:60 qemu-boot:240 cgroup-boot:480 nspawn:120 nspawn-cgroup:180 podman:180 containerfile:120 disk-boot:1500
  import:900 import-sysv-runit:240)
if [ "$#" -gt 0 ]; then
  wanted=("$@")
  SUITES=()
  for w in "${wanted[@]}"; do
    case $w in
    static-init) SUITES+=(static-init:60) ;;
    qemu-boot) SUITES+=(qemu-boot:240) ;;
    cgroup-boot) SUITES+=(cgroup-boot:480) ;;
    nspawn) SUITES+=(nspawn:120) ;;
    nspawn-cgroup) SUITES+=(nspawn-cgroup:180) ;;
    podman) SUITES+=(podman:180) ;;
    containerfile) SUITES+=(containerfile:120) ;;
    disk-boot) SUITES+=(disk-boot:1500) ;;
    import) SUITES+=(import:900) ;;
    import-sysv-runit) SUITES+=(import-sysv-runit:240) ;;
    *) echo "run-all.sh: unknown suite $w" >&2; exit 2 ;;
    esac
  done
fi

start=$(date +%s)
# One build for every suite.
if build_svc_programs; then
  export_prebuilt
fi

for entry in "${SUITES[@]}"; do
  suite=${entry%%:*}
  bound=${entry##*:}
  report=$(mktemp)
  t0=$(date +%s)
  timeout -k 10 "$bound" "$SYSTEST_DIR/$suite.sh" >"$report" 2>"$report.err"
  rc=$?
  t1=$(date +%s)
  seen=0
  while IFS= read -r line; do
    case $line in
    "PASS "*)
      echo "$line"
      PASSED=$((PASSED + 1))
      seen=$((seen + 1))
      ;;
    "FAIL "*)
      echo "$line"
      FAILED=$((FAILED + 1))
      seen=$((seen + 1))
      ;;
    "# "*) echo "$line" ;;
    *" passed, "*" failed") echo "# $suite: $line ($((t1 - t0)) s)" ;;
    esac
  done <"$report"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    fail "$suite" "the suite ran out of its ${bound} s bound"
  elif [ "$seen" -eq 0 ]; then
    fail "$suite" "the suite exited $rc without reporting a check: $(tail -n 3 "$report.err" | tr '\n' '|')"
  elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$report"; then
    fail "$suite" "the suite exited $rc although no check failed: $(tail -n 3 "$report.err" | tr '\n' '|')"
  fi
  rm -f "$report" "$report.err"
done

echo "# system tests took $(($(date +%s) - start)) s"
summary
