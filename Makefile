# svc — build, test, benchmark and fuzz entry points.
# `make test` is the one test command; .ci/run runs exactly it.

CARGO    ?= cargo
PREFIX   ?= /usr/local
DESTDIR  ?=
FUZZ_SECONDS ?= 30

.PHONY: all build static test test-deps lint unit check-services system-test bench fuzz clean

all: build

# The shipped build: static, non-PIE binaries in
# target/$(STATIC_TARGET)/release. Static because svc-init goes into
# initramfs images and FROM-scratch containers, and because svc-supervise
# runs once per service: static and non-PIE it needs no relocated data
# pages, which keeps it within 64 kB of private memory (docs/benchmarks.md).
# The explicit --target keeps RUSTFLAGS away from build scripts and proc
# macros.
STATIC_TARGET ?= x86_64-unknown-linux-gnu
build static:
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
	  $(CARGO) build --release --workspace --target $(STATIC_TARGET)

# Every test of the workspace, then the lints and the shipped declarations.
test: test-deps unit lint check-services system-test

# Debian packages the process tests drive for real (nginx, rsyslog, curl),
# installed without starting them.
test-deps:
	tools/ci-daemons.sh

unit:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check-services:
	$(CARGO) run -q -p svcctl -- check --services services.d

# PID 1 under qemu, systemd-nspawn and podman (root; installs what it needs
# from Debian). See docs/testing.md.
system-test:
	tests/system/install-deps.sh
	tests/system/run-all.sh

bench:
	./tools/bench.sh

# A short bounded run of every fuzz target (cargo-fuzz needs -Z flags:
# RUSTC_BOOTSTRAP lets it run on the stable toolchain).
fuzz:
	./tools/fuzz.sh $(FUZZ_SECONDS)

clean:
	$(CARGO) clean
