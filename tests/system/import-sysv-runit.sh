#!/usr/bin/env bash
# `svcctl import` of Debian bookworm's real LSB init scripts (nginx, ssh,
# cron; bookworm's rsyslog ships none) and runit service directories
# (openssh-server's /etc/sv/ssh, runit-services' rsyslog and cron), then
# the imported declarations started by svc-manager in a PID, mount and
# network namespace, chrooted into an overlay of a cached Debian tree with
# rsyslog, cron, openssh-server and nginx-light ($SVC_IMPORT_TREE, else
# tools/bench-boot.sh's $SVC_TEST_CACHE/bench-boot/base-*, else
# tests/system/import.sh's $SVC_TEST_CACHE/import/base-*). The overlay's upper layer, in this
# suite's temporary directory, takes every write: the cached tree is never
# changed. The tree gets this build's svc-manager, svc-supervise and svcctl
# (static) and runit-services (dpkg-deb -x from
# $SVC_TEST_CACHE/import-debs; never installed on the host).
#
# Each phase (lsb, runit) runs in its own namespaces:
#   import-PHASE-written     every source imported, written and enabled in
#                            default; exit 1 (lines were left out) with a
#                            `FILE:LINE: not imported:` line for them
#   import-PHASE-check       `svcctl check` of the result (plus stub
#                            targets for what they require): no error
#   import-PHASE-started     svc-manager brings the default target up: each
#                            imported service ready (`svcctl status`)
#   import-PHASE-foreground  each one's main process is the daemon itself
#                            (nginx, sshd, cron, rsyslogd), in the
#                            foreground: its parent is svc-supervise
#   import-lsb-nginx-http    nginx answers HTTP/1.1 200 on 127.0.0.1:80
#   import-PHASE-ssh-banner  sshd answers with its SSH-2.0-OpenSSH banner
#   import-runit-syslog      rsyslog made /dev/log and logs what is sent
#                            there into /var/log/syslog
#   import-lsb-non-daemon    hwclock.sh (or procps, kmod: rcS scripts, no
#                            daemon) is refused: nothing written, exit 1,
#                            the reason
# rsyslog's imklog reads an empty /proc/kmsg (a bind of /dev/null inside
# the namespace), never the host's kernel log.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PHASE_TIMEOUT=${SVC_IMPORT_TIMEOUT:-90}
ALL_CHECKS=()
for p in lsb runit; do
  ALL_CHECKS+=("import-$p-written" "import-$p-check" "import-$p-started" "import-$p-foreground"
    "import-$p-ssh-banner")
done
ALL_CHECKS+=(import-lsb-nginx-http import-runit-syslog import-lsb-non-daemon)

missing=$(missing_cmds unshare chroot dpkg-deb mount timeout)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "needs root (namespaces, chroot, overlay)"

# The tree: $SVC_IMPORT_TREE, else bench-boot's cached base tree, else the
# one tests/system/import.sh builds and caches (run-all.sh runs it first).
TREE=${SVC_IMPORT_TREE:-}
if [ -z "$TREE" ]; then
  for t in "$SVC_TEST_CACHE"/bench-boot/base-* "$SVC_TEST_CACHE"/import/base-*; do
    case $t in *.partial) continue ;; esac
    [ -d "$t" ] && [ -x "$t/usr/sbin/nginx" ] && [ -z "$TREE" ] && TREE=$t
  done
fi
[ -n "$TREE" ] || fail_all "no cached Debian tree with nginx in $SVC_TEST_CACHE/bench-boot/base-* or $SVC_TEST_CACHE/import/base-* (tests/system/import.sh or make bench-boot builds one)"
case $TREE in "" | / | //*) fail_all "refusing tree '$TREE'" ;; esac
for f in usr/sbin/sshd usr/sbin/cron usr/sbin/rsyslogd etc/init.d/nginx etc/init.d/ssh etc/init.d/cron etc/sv/ssh/run; do
  [ -e "$TREE/$f" ] || fail_all "the cached tree $TREE has no /$f"
done

# runit-services, cached as install-deps.sh caches it.
DEBS=$SVC_TEST_CACHE/import-debs
RUNIT_DEB=$(compgen -G "$DEBS/runit-services_*.deb" | head -n1)
if [ -z "$RUNIT_DEB" ]; then
  mkdir -p "$DEBS/.dl-runit-services"
  id _apt >/dev/null 2>&1 && chown _apt "$DEBS/.dl-runit-services"
  (cd "$DEBS/.dl-runit-services" && apt-get download -qq runit-services) >/dev/null 2>&1 &&
    mv "$DEBS"/.dl-runit-services/runit-services_*.deb "$DEBS/"
  rm -rf "$DEBS/.dl-runit-services"
  RUNIT_DEB=$(compgen -G "$DEBS/runit-services_*.deb" | head -n1)
fi
[ -n "$RUNIT_DEB" ] || fail_all "no runit-services package in $DEBS (tests/system/install-deps.sh fetches it)"

build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"

make_tmp

# The script run as PID 1 of the namespaces, chrooted into the tree.
cat >"$TMP/inside.sh" <<'INSIDE'
#!/bin/bash
# inside.sh PHASE: import, check, start and probe; one "PASS x" or
# "FAIL x: why" line per check in /srv/imp/result.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
phase=$1
S=/srv/imp/s E=/srv/imp/e R=/srv/imp/result SOCK=/run/svc/sock
: >"$R"
pass() { echo "PASS $1" >>"$R"; }
fail() { local n=$1; shift; echo "FAIL $n: $*" >>"$R"; }
ip link set lo up

case $phase in
lsb)
  sources=(/etc/init.d/nginx /etc/init.d/ssh /etc/init.d/cron)
  names=(nginx ssh cron)
  comms=(nginx sshd cron)
  ;;
runit)
  sources=(/etc/sv/ssh /usr/share/runit/sv/rsyslog /usr/share/runit/sv/cron)
  names=(ssh rsyslog cron)
  comms=(sshd rsyslogd cron)
  ;;
esac

svcctl --services "$S" --enabled "$E" import "${sources[@]}" >/srv/imp/import.out 2>/srv/imp/import.err
rc=$?
bad=""
for n in "${names[@]}"; do
  [ -s "$S/$n.ini" ] || bad="$bad $n.ini-not-written"
  [ -e "$E/default/$n" ] || bad="$bad $n-not-enabled"
done
grep -Eq '^/[^:]+:[0-9]+: not imported: ' /srv/imp/import.err || bad="$bad no-FILE:LINE-note"
if [ "$rc" -eq 1 ] && [ -z "$bad" ]; then
  pass "import-$phase-written"
else
  fail "import-$phase-written" "exit $rc,$bad: $(tr '\n' '|' </srv/imp/import.err | cut -c1-300)"
fi

if [ "$phase" = lsb ]; then
  # Debian's rcS-style scripts: whichever of them the tree has.
  nd=""
  for s in hwclock.sh procps kmod; do
    [ -z "$nd" ] && [ -e "/etc/init.d/$s" ] && nd=$s
  done
  if [ -n "$nd" ]; then
    svcctl --services /srv/imp/x --enabled /srv/imp/xe import "/etc/init.d/$nd" >/dev/null 2>/srv/imp/nd.err
    rc=$?
    if [ "$rc" -eq 1 ] && grep -q "$nd.*not a daemon; nothing written" /srv/imp/nd.err &&
      [ -z "$(ls -A /srv/imp/x 2>/dev/null)" ]; then
      pass import-lsb-non-daemon
    else
      fail import-lsb-non-daemon "$nd: exit $rc: $(tr '\n' '|' </srv/imp/nd.err | cut -c1-300)"
    fi
  else
    fail import-lsb-non-daemon "the tree has none of /etc/init.d/{hwclock.sh,procps,kmod}"
  fi
fi

# What the imported declarations require, as this test's stand-ins: the
# namespace has nothing to mount or configure.
stub() { printf '# test stand-in\n[service]\ntype = oneshot\nexec = /bin/true\n' >"$S/$1.ini"; }
for n in networking localmount netmount; do stub "$n"; done
printf '[target]\ndescription = import test\n' >"$S/default.ini"
if [ "$phase" = lsb ]; then
  # Debian's rsyslog has no LSB script: a stand-in provides syslog.
  printf '[service]\nexec = /bin/sleep infinity\n[dependencies]\nprovides = syslog\n' >"$S/syslog-stand-in.ini"
fi
if svcctl --services "$S" --enabled "$E" check >/srv/imp/check.out 2>&1; then
  pass "import-$phase-check"
else
  fail "import-$phase-check" "$(grep -v warning /srv/imp/check.out | tr '\n' '|' | cut -c1-300)"
fi

mkdir -p /run/svc /var/log/svc
svc-manager --services "$S" --enabled "$E" --runtime-dir /run/svc --log-dir /var/log/svc \
  --socket "$SOCK" --target default >/srv/imp/manager.log 2>&1 &
up=no
for _ in $(seq 1 300); do
  if svcctl --socket "$SOCK" --timeout 2 status "${names[@]}" >/dev/null 2>&1; then
    up=yes
    break
  fi
  sleep 0.1
done
if [ "$up" = yes ]; then
  pass "import-$phase-started"
else
  fail "import-$phase-started" "$(svcctl --socket "$SOCK" status 2>&1 | tr '\n' '|' | cut -c1-400)"
fi

bad=""
for i in "${!names[@]}"; do
  n=${names[$i]} want=${comms[$i]}
  pid=$(svcctl --socket "$SOCK" --json status "$n" 2>/dev/null | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
  if [ -z "$pid" ]; then
    bad="$bad $n:no-pid"
    continue
  fi
  comm=$(cat "/proc/$pid/comm" 2>/dev/null)
  stat=$(cat "/proc/$pid/stat" 2>/dev/null)
  ppid=$(echo "${stat##*) }" | cut -d' ' -f2)
  # The supervisor names itself svc:NAME; its program is svc-supervise.
  pexe=$(readlink "/proc/$ppid/exe" 2>/dev/null)
  [ "$comm" = "$want" ] && [ "${pexe##*/}" = svc-supervise ] ||
    bad="$bad $n:pid=$pid,comm=$comm,parent=$ppid:${pexe##*/}"
done
if [ -z "$bad" ]; then pass "import-$phase-foreground"; else fail "import-$phase-foreground" "$bad"; fi

banner=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22 && head -c 40 <&3' 2>&1 | head -n1)
case $banner in
SSH-2.0-OpenSSH*) pass "import-$phase-ssh-banner" ;;
*) fail "import-$phase-ssh-banner" "got '$banner'" ;;
esac

if [ "$phase" = lsb ]; then
  reply=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && head -n1 <&3' 2>&1 | tr -d '\r')
  case $reply in
  "HTTP/1.1 200 OK") pass import-lsb-nginx-http ;;
  *) fail import-lsb-nginx-http "got '$reply'" ;;
  esac
else
  word=svc-import-test-$$
  ok=no
  if [ -S /dev/log ]; then
    logger -u /dev/log -t svcimport "$word"
    for _ in $(seq 1 50); do
      grep -q "$word" /var/log/syslog 2>/dev/null && { ok=yes; break; }
      sleep 0.1
    done
  fi
  if [ "$ok" = yes ]; then
    pass import-runit-syslog
  else
    fail import-runit-syslog "/dev/log: $(ls -l /dev/log 2>&1); not in /var/log/syslog"
  fi
fi
svcctl --socket "$SOCK" status >>/srv/imp/manager.log 2>&1
INSIDE

# The namespaces' setup (host side, private mount namespace): the overlay,
# its /proc, /dev, /run and /tmp, then the chroot.
cat >"$TMP/setup.sh" <<'SETUP'
#!/bin/bash
set -eu
tree=$1 dir=$2 phase=$3
r=$dir/merged
mount -t overlay overlay -o "lowerdir=$tree,upperdir=$dir/upper,workdir=$dir/work" "$r"
mount -t proc proc "$r/proc"
mount --bind /dev/null "$r/proc/kmsg"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$r/dev"
mknod -m 666 "$r/dev/null" c 1 3
mknod -m 666 "$r/dev/zero" c 1 5
mknod -m 666 "$r/dev/full" c 1 7
mknod -m 666 "$r/dev/random" c 1 8
mknod -m 666 "$r/dev/urandom" c 1 9
mknod -m 666 "$r/dev/tty" c 5 0
ln -s /proc/self/fd "$r/dev/fd"
exec chroot "$r" /bin/bash /srv/imp/inside.sh "$phase"
SETUP

for phase in lsb runit; do
  dir=$TMP/$phase
  mkdir -p "$dir"/{upper,work,merged}
  up=$dir/upper
  mkdir -p "$up/srv/imp" "$up/usr/sbin" "$up/usr/bin"
  install -m 0755 "$TMP/inside.sh" "$up/srv/imp/inside.sh"
  install -m 0755 "$SVC_MANAGER_BIN" "$SVC_SUPERVISE_BIN" "$up/usr/sbin/"
  install -m 0755 "$SVCCTL_BIN" "$up/usr/bin/"
  dpkg-deb -x "$RUNIT_DEB" "$up"
  timeout -k 5 "$PHASE_TIMEOUT" unshare --mount --propagation private --pid --net --fork \
    bash "$TMP/setup.sh" "$TREE" "$dir" "$phase" >"$dir/run.log" 2>&1
  rc=$?
  result=$up/srv/imp/result
  if [ ! -s "$result" ]; then
    for c in "${ALL_CHECKS[@]}"; do
      case $c in import-"$phase"-*) fail "$c" "the phase exited $rc without results: $(tail -n 3 "$dir/run.log" | tr '\n' '|')" ;; esac
    done
    continue
  fi
  while IFS= read -r line; do
    case $line in
    "PASS "*) pass "${line#PASS }" ;;
    "FAIL "*) rest=${line#FAIL }; fail "${rest%%: *}" "${rest#*: }" ;;
    esac
  done <"$result"
  if [ -n "${SVC_KEEP_LOGS:-}" ]; then
    mkdir -p "$SVC_KEEP_LOGS/import-$phase"
    cp "$up"/srv/imp/*.out "$up"/srv/imp/*.err "$up"/srv/imp/*.log "$SVC_KEEP_LOGS/import-$phase/" 2>/dev/null
    cp -r "$up/srv/imp/s" "$SVC_KEEP_LOGS/import-$phase/" 2>/dev/null
  fi
done

summary
