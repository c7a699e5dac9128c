# A service whose child escapes with setsid and a double fork, and ignores
# SIGTERM: it is still in the service's cgroup, and `svcctl stop` leaves
# the cgroup empty and the escaped process gone (killed by cgroup after
# stop-timeout), and the service's cgroup is removed.
. /usr/lib/cgtest/guest-lib

cat >/run/cgtest/escape-svc <<'SCRIPT'
#!/bin/sh
rm -f /run/cgtest/escaped.pid
# setsid + double fork: a new session, reparented away from this shell.
setsid sh -c 'sh -c "trap \"\" TERM; echo \$\$ >/run/cgtest/escaped.pid; while :; do sleep 1; done" &' &
exec sleep 100000
SCRIPT
chmod 0755 /run/cgtest/escape-svc
declare_service escape <<'INI'
[service]
exec = /run/cgtest/escape-svc
stop-timeout = 2s
restart = never
INI

svcctl start escape || die "svcctl start escape failed"
wait_until 10 test -s /run/cgtest/escaped.pid || die "the escaped process never wrote its pid"
esc=$(cat /run/cgtest/escaped.pid)
main=$(main_pid escape)
echo "main $main, escaped $esc, leaf: $(members escape)"
in_leaf escape "$main" || die "main pid $main is not in $(leaf escape) ($(members escape))"
in_leaf escape "$esc" || die "escaped pid $esc is not in $(leaf escape) ($(members escape))"
[ "$(cat /proc/"$esc"/stat | awk '{ print $6 }')" != "$(cat /proc/"$main"/stat | awk '{ print $6 }')" ] ||
  die "the escaped process did not leave the main process's session"

svcctl stop escape || die "svcctl stop escape failed"
leaf_empty escape || die "after the stop the leaf still holds: $(members escape)"
wait_until 5 gone "$esc" || die "escaped pid $esc still alive after the stop"
no_cgroup() { [ ! -d "$CG/svc/escape" ]; }
wait_until 5 no_cgroup || die "$CG/svc/escape was not removed after the stop"
echo "stopped: leaf empty, escaped process gone"
