#!/usr/bin/env bash
# `svcctl import` end to end on systemd units: in a copy of a Debian
# bookworm tree with rsyslog, cron, openssh-server and nginx-light and svc
# installed (make install DESTDIR=), svcctl imports the packages' own
# units (/lib/systemd/system/{nginx,ssh,rsyslog,cron}.service); then
# svc-manager, chrooted into the copy in its own PID, mount, network, UTS
# and IPC namespaces, starts them and each daemon must answer while
# running in the foreground under its svc-supervise.
#
# The tree: $SVC_IMPORT_TREE if set, else tools/bench-boot.sh's cached base
# tree ($SVC_TEST_CACHE/bench-boot/base-*), else one built here with
# debootstrap and cached in $SVC_TEST_CACHE/import/base-KEY. Only a copy
# in the temporary directory is changed.
#
# Checks:
#   import-systemd-writes    svcctl import exits 1 (each unit has lines svc
#                            cannot carry over: 10 notes) and writes the
#                            four declarations and enabled/default/NAME
#   import-systemd-check     svcctl check in the tree: no error
#   import-systemd-started   svc-manager starts all four (status: up)
#   import-nginx-http        nginx answers HTTP 200 on 127.0.0.1:80
#   import-sshd-banner       sshd's banner on 127.0.0.1:22
#   import-rsyslog-devlog    rsyslog's /dev/log takes a message that
#                            reaches /var/log/syslog
#   import-cron-proc         cron runs (/proc in the namespace)
#   import-foreground        the main process of each (nginx's master from
#                            its pid file) is a child of svc-supervise
#   import-systemd-stop      svcctl stop: no daemon process is left
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_CHECKS=(import-systemd-writes import-systemd-check import-systemd-started import-nginx-http
  import-sshd-banner import-rsyslog-devlog import-cron-proc import-foreground import-systemd-stop)
DAEMONS=(nginx ssh rsyslog cron)
WAIT=${SVC_IMPORT_TIMEOUT:-60}
MIRROR=${SVC_IMPORT_MIRROR:-http://deb.debian.org/debian}
CACHE=$SVC_TEST_CACHE/import

[ "$(id -u)" -eq 0 ] || fail_all "needs root (chroot, namespaces)"
missing=$(missing_cmds unshare nsenter chroot make ip logger timeout)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
build_svc_programs || fail_all "the svc programs do not build: $BUILD_ERROR"
make_tmp

guard() {
  case ${1:?guard: empty path} in
  *"/../"* | *"/..") echo "import.sh: refusing path '$1'" >&2; exit 1 ;;
  "$CACHE"/?* | "$TMP"/?*) ;;
  *) echo "import.sh: refusing path '$1'" >&2; exit 1 ;;
  esac
}

# build_base DEST: Debian bookworm minbase with the four daemons, no
# daemon started while installing (policy-rc.d), sshd host keys made.
build_base() {
  local dest=$1 partial=$1.partial
  guard "$partial"
  rm -rf "$partial"
  command -v debootstrap >/dev/null || { echo "debootstrap is missing" >&2; return 1; }
  debootstrap --foreign --variant=minbase --include=rsyslog,cron,openssh-server,nginx-light \
    bookworm "$partial" "$MIRROR" || return 1
  mkdir -p "$partial/usr/sbin"
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 0755 "$partial/usr/sbin/policy-rc.d"
  unshare --mount --propagation private chroot "$partial" /debootstrap/debootstrap --second-stage || return 1
  unshare --mount --propagation private chroot "$partial" /usr/bin/ssh-keygen -A || return 1
  rm -f "$partial/usr/sbin/policy-rc.d"
  rm -rf "$partial"/usr/share/{doc,man,info,locale} "$partial"/var/cache/apt/archives/*.deb
  mv "$partial" "$dest"
}

has_daemons() {
  [ -x "$1/usr/sbin/nginx" ] && [ -x "$1/usr/sbin/sshd" ] && [ -x "$1/usr/sbin/rsyslogd" ] &&
    [ -x "$1/usr/sbin/cron" ] && [ -f "$1/lib/systemd/system/nginx.service" ]
}

BASE=${SVC_IMPORT_TREE:-}
if [ -z "$BASE" ]; then
  for t in "$SVC_TEST_CACHE"/bench-boot/base-*; do
    case $t in *.partial) continue ;; esac
    has_daemons "$t" && BASE=$t
  done
fi
if [ -z "$BASE" ]; then
  mkdir -p "$CACHE"
  BASE=$(cached_build "$CACHE" base "$(recipe_key "$(declare -f build_base)" "$MIRROR")" build_base) ||
    fail_all "no Debian tree: building one failed (see $CACHE/base.log)"
fi
has_daemons "$BASE" || fail_all "$BASE lacks nginx, sshd, rsyslogd or cron"

ROOT=$TMP/root
case $ROOT in "" | / | //*) fail_all "refusing root '$ROOT'" ;; esac
cp -a "$BASE" "$ROOT" || fail_all "could not copy $BASE"

# svc into the copy, the programs under test in one BIN_DIR for make.
bin_dir "$TMP/bin" || fail_all "a program for make install is missing (cp said which)"
make -s -C "$REPO_ROOT" install DESTDIR="$ROOT" PREFIX=/usr BIN_DIR="$TMP/bin" GEN_DIR="$TMP/gen" \
  >"$TMP/install.log" 2>&1 || fail_all "make install failed: $(tail -n 3 "$TMP/install.log" | tr '\n' '|')"
# The shipped busybox daemons have no programs in a Debian tree.
rm -f "$ROOT"/usr/lib/svc/services.d/{syslogd,crond}.ini
rm -rf "$ROOT/etc/svc"

in_root() { unshare --mount --propagation private chroot "$ROOT" "$@"; }

# --- import --------------------------------------------------------------
units=()
for d in "${DAEMONS[@]}"; do units+=("/lib/systemd/system/$d.service"); done
rc=0
in_root /usr/bin/svcctl import "${units[@]}" >"$TMP/import.out" 2>"$TMP/import.err" || rc=$?
notes=$(grep -c ': not imported: ' "$TMP/import.err")
written=""
for d in "${DAEMONS[@]}"; do
  [ -f "$ROOT/etc/svc/services.d/$d.ini" ] && [ -f "$ROOT/etc/svc/enabled/default/$d" ] || written="$written $d"
done
if [ "$rc" -ne 1 ]; then
  fail import-systemd-writes "exit $rc, want 1 (partial): $(tr '\n' '|' <"$TMP/import.err" | cut -c1-500)"
elif [ "$notes" -ne 10 ]; then
  fail import-systemd-writes "$notes notes, want 10: $(tr '\n' '|' <"$TMP/import.err" | cut -c1-800)"
elif [ -n "$written" ]; then
  fail import-systemd-writes "not written or not enabled:$written"
else
  pass import-systemd-writes
fi
if in_root /usr/bin/svcctl check >"$TMP/check.out" 2>"$TMP/check.err"; then
  pass import-systemd-check
else
  fail import-systemd-check "$(grep -v warning "$TMP/check.err" | tr '\n' '|' | cut -c1-500)"
fi

# A target of exactly the imported services: the default target would
# bring up the early services of a real boot (mounts, host name).
mkdir -p "$ROOT/etc/svc/services.d"
printf '[target]\ndescription = the imported services\n[dependencies]\nwants = %s\n' "${DAEMONS[*]}" \
  >"$ROOT/etc/svc/services.d/import-e2e.ini"

# --- the manager in its namespaces ---------------------------------------
: >"$TMP/manager.log"
# shellcheck disable=SC2016 # expanded by the inner sh
ROOTFS=$ROOT setsid unshare --fork --pid --mount --net --uts --ipc --propagation private sh -c '
  ip link set lo up &&
  mount -t proc proc "$ROOTFS/proc" &&
  mount -t tmpfs -o mode=0755 tmpfs "$ROOTFS/run" &&
  mount -t tmpfs -o mode=1777 tmpfs "$ROOTFS/tmp" &&
  exec chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /usr/sbin/svc-manager --target import-e2e' </dev/null >"$TMP/manager.log" 2>&1 &
UNSHARE_PID=$!
at_exit "kill_child_tree $UNSHARE_PID"

# The manager's pid on the host: unshare's child, once it has become
# svc-manager (sh, chroot and env exec into it).
MANAGER=""
for ((i = 0; i < 100; i++)); do
  c=$(cat /proc/"$UNSHARE_PID"/task/*/children 2>/dev/null | awk '{print $1}')
  if [ -n "$c" ] && [ "$(cat /proc/"$c"/comm 2>/dev/null)" = svc-manager ]; then
    MANAGER=$c
    break
  fi
  sleep 0.1
done
[ -n "$MANAGER" ] || fail_all "svc-manager did not start: $(tail -n 5 "$TMP/manager.log" | tr '\n' '|')"
# inside CMD...: CMD in the manager's namespaces and root.
inside() { timeout -k 5 30 nsenter -t "$MANAGER" -m -p -n -u -i -r -w "$@"; }

explain() { tail -n 6 "$TMP/manager.log" | tr '\n' '|' | cut -c1-600; }

# status_field NAME FIELD: one field of `svcctl --json status NAME`.
status_json() { inside /usr/bin/svcctl --json status "$@" 2>/dev/null; }
field() { sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" <<<"$1" | tr -d '"'; }

started=no
for ((i = 0; i < WAIT * 5; i++)); do
  if inside /usr/bin/svcctl status "${DAEMONS[@]}" >/dev/null 2>&1; then
    started=yes
    break
  fi
  kill -0 "$UNSHARE_PID" 2>/dev/null || break
  sleep 0.2
done
if [ "$started" = yes ]; then
  pass import-systemd-started
else
  inside /usr/bin/svcctl status >"$TMP/status.out" 2>&1
  fail import-systemd-started "not all up within ${WAIT}s: $(tr '\n' '|' <"$TMP/status.out" 2>/dev/null | cut -c1-600) manager: $(explain)"
  # The probes below then say which daemon does not answer.
fi

# probe CHECK SERVICE SECONDS CMD...: pass when CMD succeeds within
# SECONDS; else the reason, with the service's status and last log lines.
probe() {
  local name=$1 service=$2 secs=$3 end
  shift 3
  end=$(($(date +%s) + secs))
  while :; do
    if "$@" >"$TMP/$name.out" 2>&1; then
      pass "$name"
      return
    fi
    [ "$(date +%s)" -lt "$end" ] || break
    sleep 0.2
  done
  fail "$name" "$(tr '\n' '|' <"$TMP/$name.out" | cut -c1-200) status: $(inside /usr/bin/svcctl status "$service" 2>&1 |
    tr '\n' '|' | cut -c1-600)"
}
# shellcheck disable=SC2016 # expanded by the inner bash
http_200() {
  inside bash -c 'exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 &&
    head -n 1 <&3 | grep -q "^HTTP/1.[01] 200"'
}
# shellcheck disable=SC2016
ssh_banner() { inside bash -c 'exec 3<>/dev/tcp/127.0.0.1/22 && head -n 1 <&3 | grep -q "^SSH-2.0-OpenSSH"'; }
MARK=svc-import-e2e-$$-$RANDOM
devlog() {
  [ -S "$ROOT/dev/log" ] || { echo "no socket at /dev/log"; return 1; }
  logger -u "$ROOT/dev/log" -t import-e2e "$MARK" || return 1
  grep -q "$MARK" "$ROOT/var/log/syslog"
}
cron_proc() { inside sh -c 'for c in /proc/[0-9]*/comm; do [ "$(cat "$c")" = cron ] && exit 0; done; exit 1'; }

probe import-nginx-http nginx 20 http_200
probe import-sshd-banner ssh 20 ssh_banner
probe import-rsyslog-devlog rsyslog 20 devlog
probe import-cron-proc cron 20 cron_proc

# Each main process (status pid; nginx: its master, from the pid file) is a
# child of svc-supervise.
bad=""
for d in "${DAEMONS[@]}"; do
  pid=$(field "$(status_json "$d")" pid)
  ppid=""
  comm=""
  if [ -n "$pid" ] && [ "$pid" != null ]; then
    ppid=$(inside awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)
    # The supervisor names itself svc:NAME; its program says what it is.
    [ -n "$ppid" ] && comm=$(inside readlink "/proc/$ppid/exe" 2>/dev/null)
    exe=$(inside readlink "/proc/$pid/exe" 2>/dev/null)
  fi
  [ "$comm" = /usr/sbin/svc-supervise ] || bad="$bad $d(pid=$pid parent=$ppid:$comm)"
  case $d:$exe in nginx:*/nginx | ssh:*/sshd | rsyslog:*/rsyslogd | cron:*/cron) ;; *) bad="$bad $d(exe=$exe)" ;; esac
done
if [ -z "$bad" ]; then pass import-foreground; else fail import-foreground "$bad"; fi

# Stopping leaves nothing behind.
inside /usr/bin/svcctl stop "${DAEMONS[@]}" >"$TMP/stop.out" 2>&1
# shellcheck disable=SC2016
left=$(inside sh -c 'for c in /proc/[0-9]*/comm; do case $(cat "$c" 2>/dev/null) in nginx|sshd|rsyslogd|cron) echo "${c%/comm}";; esac; done')
if [ -z "$left" ]; then
  pass import-systemd-stop
else
  fail import-systemd-stop "still running: $(echo "$left" | tr '\n' ' ') ($(tr '\n' '|' <"$TMP/stop.out" | cut -c1-300))"
fi

kill_child_tree "$UNSHARE_PID"
wait "$UNSHARE_PID" 2>/dev/null
summary
