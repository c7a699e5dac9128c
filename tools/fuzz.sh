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

status=0
for dir in libnv-rs/fuzz libsvc/fuzz; do
  [ -d "$dir" ] || continue
  crate="${dir%/fuzz}"
  for target in $(cd "$crate" && cargo fuzz list); do
    echo "== fuzz $crate:$target for ${seconds}s"
    if ! (cd "$crate" && cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048); then
      echo "fuzz target $crate:$target FAILED" >&2
      status=1
    fi
  done
done
exit "$status"
