#!/usr/bin/env bash
# Runs every cargo-fuzz target of the repository for a bounded time each.
# Usage: tools/fuzz.sh [SECONDS_PER_TARGET]
# A crash leaves its input under <crate>/fuzz/artifacts/<target>/; turn it
# into a regression test before fixing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

# cargo-fuzz passes -Z flags to rustc; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them (no nightly toolchain can be fetched here).
export RUSTC_BOOTSTRAP=1

# Seeds: real packings for the nvlist targets, the shipped declarations for
# the INI parser, sample units for the systemd importer. The working corpus stays under fuzz/corpus (gitignored).
seeds_for() {
  case $1 in
  libnv-rs:unpack) echo tests/vectors/valid ;;
  libsvc:ini) echo ../services.d ;;
  svcctl:systemd_unit) echo fuzz/seeds/systemd_unit ;;
  esac
}

status=0
for dir in libnv-rs/fuzz libsvc/fuzz svc-init/fuzz svcctl/fuzz; do
  [ -d "$dir" ] || continue
  crate="${dir%/fuzz}"
  for target in $(cd "$crate" && cargo fuzz list); do
    echo "== fuzz $crate:$target for ${seconds}s"
    mkdir -p "$dir/corpus/$target"
    seeds=$(seeds_for "$crate:$target")
    if ! (cd "$crate" && cargo fuzz run -O "$target" "fuzz/corpus/$target" $seeds -- \
      -max_total_time="$seconds" -rss_limit_mb=2048); then
      echo "fuzz target $crate:$target FAILED (input under $dir/artifacts/$target)" >&2
      status=1
    fi
  done
done
exit "$status"
