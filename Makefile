# svc — build, test, benchmark and fuzz entry points.
# `make test` is the one test command; .ci/run runs exactly it.

CARGO    ?= cargo
PREFIX   ?= /usr/local
DESTDIR  ?=
FUZZ_SECONDS ?= 30
# libnv's nvdump tool is behind a feature, so that the library depends on
# thiserror, nix and libc only; every build and test here includes it.
FEATURES ?= --features libnv/nvdump

.PHONY: all build static musl-target test test-deps lint unit check-services system-test bench bench-boot fuzz clean \
	man completions install uninstall run

all: build

# The shipped build: static, non-PIE binaries in
# target/$(STATIC_TARGET)/release. Static because svc-init goes into
# initramfs images and FROM-scratch containers, and because svc-supervise
# runs once per service: static and non-PIE it needs no relocated data
# pages, which keeps it within 64 kB of private memory (docs/benchmarks.md).
# The target is musl when its standard library is installed, else glibc
# with crt-static (tools/static-target.sh; docs/decisions.md says why).
# The explicit --target keeps RUSTFLAGS away from build scripts and proc
# macros.
# `make` adds the musl target with rustup first when it can
# (tools/ensure-musl.sh); STATIC_TARGET is expanded only after that.
STATIC_TARGET ?= $(shell tools/static-target.sh)
build static: musl-target
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
	  $(CARGO) build --release --workspace $(FEATURES) --target $(STATIC_TARGET)

musl-target:
	@tools/ensure-musl.sh

# Every test of the workspace, then the lints and the shipped declarations.
test: test-deps unit lint check-services system-test

# Debian packages the process tests drive for real (nginx, rsyslog, curl),
# installed without starting them.
test-deps:
	tools/ci-daemons.sh

unit:
	$(CARGO) build --workspace $(FEATURES) --bins
	$(CARGO) test --workspace $(FEATURES) --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace $(FEATURES) --all-targets -- -D warnings
	$(CARGO) clippy -p libnv --lib -- -D warnings

check-services:
	$(CARGO) run -q -p svcctl -- check --services services.d

# PID 1 under qemu, systemd-nspawn and podman (root; installs what it needs
# from Debian). See docs/testing.md.
system-test: musl-target
	tests/system/install-deps.sh
	tests/system/run-all.sh

bench:
	./tools/bench.sh

# Boot of one Debian bookworm disk system (rsyslog, cron, sshd, nginx; an
# fstab disk, swap, hostname, sysctl, seed) under qemu four ways -- svc,
# OpenRC, runit and a plain shell-script floor -- interleaved, five boots
# each: docs/benchmarks-boot.md. Root; not part of `make test`.
bench-boot:
	bash tools/bench-boot.sh

# A short bounded run of every fuzz target (cargo-fuzz needs -Z flags:
# RUSTC_BOOTSTRAP lets it run on the stable toolchain).
fuzz:
	./tools/fuzz.sh $(FUZZ_SECONDS)

clean:
	$(CARGO) clean

# --- packaging: man pages, completions, install, run ----------------------
# `make && make install DESTDIR=... PREFIX=/usr` installs the static build
# (BIN_DIR); install never builds, so that it can run as another user than
# the build. svcctl's man page and completions are generated from its clap
# definition (`svcctl generate`, hidden); the other pages are in man/.
BIN_DIR ?= $(or $(CARGO_TARGET_DIR),target)/$(STATIC_TARGET)/release
GEN_DIR ?= $(or $(CARGO_TARGET_DIR),target)/generated
SBIN_PROGRAMS := svc-init svc-manager svc-supervise svc-notify
BIN_PROGRAMS  := svcctl
MAN8_PAGES    := man/svc-init.8 man/svc-manager.8 man/svc-supervise.8
MAN5_PAGES    := man/svc.ini.5
DECLARATIONS  := $(wildcard services.d/*.ini)
# The early system's scripts and programs (services.d/ runs them by their
# installed path).
LIBEXEC_SCRIPTS := libexec/early
LIBEXEC_PROGRAMS := svc-seedrng
# Its parts, sourced by it (not programs).
LIBEXEC_PARTS   := $(wildcard libexec/early.d/*)

SBINDIR     = $(DESTDIR)$(PREFIX)/sbin
BINDIR      = $(DESTDIR)$(PREFIX)/bin
SERVICESDIR = $(DESTDIR)$(PREFIX)/lib/svc/services.d
LIBEXECDIR  = $(DESTDIR)$(PREFIX)/lib/svc/libexec
# The manager's log directory (services' `output = file`), made at install
# time as packages do, so that a host whose root is still read-only when
# the manager starts has it already.
LOGDIR      = $(DESTDIR)/var/log/svc
MAN8DIR     = $(DESTDIR)$(PREFIX)/share/man/man8
MAN5DIR     = $(DESTDIR)$(PREFIX)/share/man/man5
BASHCOMPDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

# Fails with a hint rather than cargo's build when the programs are missing.
have-programs = @for p in $(SBIN_PROGRAMS) $(BIN_PROGRAMS) $(LIBEXEC_PROGRAMS); do \
	  test -x "$(BIN_DIR)/$$p" || { echo "make: $(BIN_DIR)/$$p is missing: run \`make\` first (or set BIN_DIR)" >&2; exit 1; }; \
	done

man:
	$(have-programs)
	"$(BIN_DIR)/svcctl" generate man "$(GEN_DIR)/man"

completions:
	$(have-programs)
	"$(BIN_DIR)/svcctl" generate completions "$(GEN_DIR)/completions"

install: man completions
	install -d "$(SBINDIR)" "$(BINDIR)" "$(SERVICESDIR)" "$(LIBEXECDIR)" "$(LOGDIR)" "$(MAN8DIR)" "$(MAN5DIR)" \
	  "$(BASHCOMPDIR)" "$(ZSHCOMPDIR)" "$(FISHCOMPDIR)"
	install -m 0755 $(addprefix "$(BIN_DIR)"/,$(SBIN_PROGRAMS)) "$(SBINDIR)"
	install -m 0755 $(addprefix "$(BIN_DIR)"/,$(BIN_PROGRAMS)) "$(BINDIR)"
	install -m 0755 $(LIBEXEC_SCRIPTS) $(addprefix "$(BIN_DIR)"/,$(LIBEXEC_PROGRAMS)) "$(LIBEXECDIR)"
	install -d "$(LIBEXECDIR)/early.d"
	install -m 0644 $(LIBEXEC_PARTS) "$(LIBEXECDIR)/early.d"
	@# The declarations name the scripts as installed with PREFIX=/usr.
	for f in $(DECLARATIONS); do \
	  sed 's|/usr/lib/svc/libexec/|$(PREFIX)/lib/svc/libexec/|g' "$$f" >"$(SERVICESDIR)/$${f##*/}" && \
	  chmod 0644 "$(SERVICESDIR)/$${f##*/}" || exit 1; \
	done
	install -m 0644 $(MAN8_PAGES) "$(GEN_DIR)/man/svcctl.8" "$(MAN8DIR)"
	install -m 0644 $(MAN5_PAGES) "$(MAN5DIR)"
	install -m 0644 "$(GEN_DIR)/completions/svcctl.bash" "$(BASHCOMPDIR)/svcctl"
	install -m 0644 "$(GEN_DIR)/completions/_svcctl" "$(ZSHCOMPDIR)/_svcctl"
	install -m 0644 "$(GEN_DIR)/completions/svcctl.fish" "$(FISHCOMPDIR)/svcctl.fish"

# Removes exactly the files install put there, and the svc directories if
# they are left empty (shared ones like share/man/man8 stay).
uninstall:
	rm -f $(addprefix "$(SBINDIR)"/,$(SBIN_PROGRAMS)) $(addprefix "$(BINDIR)"/,$(BIN_PROGRAMS))
	rm -f $(addprefix "$(SERVICESDIR)"/,$(notdir $(DECLARATIONS)))
	rm -f $(addprefix "$(LIBEXECDIR)"/,$(notdir $(LIBEXEC_SCRIPTS)) $(LIBEXEC_PROGRAMS))
	rm -f $(addprefix "$(LIBEXECDIR)"/early.d/,$(notdir $(LIBEXEC_PARTS)))
	rmdir "$(LIBEXECDIR)/early.d" 2>/dev/null || true
	rm -f $(addprefix "$(MAN8DIR)"/,$(notdir $(MAN8_PAGES)) svcctl.8) \
	  $(addprefix "$(MAN5DIR)"/,$(notdir $(MAN5_PAGES)))
	rm -f "$(BASHCOMPDIR)/svcctl" "$(ZSHCOMPDIR)/_svcctl" "$(FISHCOMPDIR)/svcctl.fish"
	rmdir "$(SERVICESDIR)" "$(LIBEXECDIR)" "$(LOGDIR)" 2>/dev/null || true
	rmdir "$(DESTDIR)$(PREFIX)/lib/svc" 2>/dev/null || true

# Boots the shipped system as PID 1 of a PID+mount namespace, everything
# under a temporary directory; Ctrl-C powers it off. See tools/run.sh.
run: build
	SVC_BIN_DIR="$(BIN_DIR)" ./tools/run.sh
