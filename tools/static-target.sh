#!/bin/sh
# Prints the Rust target of the shipped static build: musl when its
# standard library is installed (`rustup target add
# x86_64-unknown-linux-musl`), else glibc with crt-static. musl is
# preferred because a static glibc program probes the CPU with cpuid at
# every start (each one a trap to the hypervisor in a VM) and carries
# ~30 kB more private data per process; see docs/decisions.md.
# SVC_STATIC_TARGET overrides the choice.
set -eu
if [ -n "${SVC_STATIC_TARGET:-}" ]; then
    echo "$SVC_STATIC_TARGET"
    exit 0
fi
musl=x86_64-unknown-linux-musl
sysroot=$(rustc --print sysroot 2>/dev/null || true)
if [ -n "$sysroot" ] && [ -d "$sysroot/lib/rustlib/$musl/lib" ]; then
    echo "$musl"
else
    echo x86_64-unknown-linux-gnu
fi
