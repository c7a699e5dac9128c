#!/bin/sh
# Adds the musl standard library with rustup when it is missing, so that
# a fresh clone's `make` builds the shipped target (musl: see
# tools/static-target.sh and docs/decisions.md) rather than falling back to
# glibc. Without rustup, or when the download fails, it says so and the
# build falls back to glibc with crt-static. SVC_STATIC_TARGET set by the
# caller means the choice is made already: nothing to do.
set -eu
[ -z "${SVC_STATIC_TARGET:-}" ] || exit 0
musl=x86_64-unknown-linux-musl
sysroot=$(rustc --print sysroot 2>/dev/null || true)
[ -n "$sysroot" ] && [ -d "$sysroot/lib/rustlib/$musl/lib" ] && exit 0
if command -v rustup >/dev/null 2>&1; then
    echo "make: adding the $musl target (rustup target add $musl), the shipped static build" >&2
    rustup target add "$musl" >&2 && exit 0
    echo "make: rustup could not add $musl: building glibc-static instead" >&2
else
    echo "make: no rustup and no $musl standard library: building glibc-static (larger, slower to start)" >&2
fi
