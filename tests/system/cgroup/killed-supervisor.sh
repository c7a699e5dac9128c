# kill -9 the supervisor of a service whose child escaped (setsid + double
# fork, deaf to SIGTERM): the manager finds what is left in the service's
# cgroup, stops it, and only then starts a new copy. Never two copies.
. /usr/lib/cgtest/guest-lib

rm -f /run/cgtest/killsup.children
cat >/run/cgtest/killsup-svc <<'SCRIPT'
#!/bin/sh
setsid sh -c 'sh -c "trap \"\" TERM; echo \$\$ >>/run/cgtest/killsup.children; while :; do sleep 1; done" &' &
exec sleep 100000
SCRIPT
chmod 0755 /run/cgtest/killsup-svc
declare_service killsup <<'INI'
[service]
exec = /run/cgtest/killsup-svc
restart = always
stop-timeout = 2s
INI

svcctl start killsup || die "svcctl start killsup failed"
wait_until 10 test -s /run/cgtest/killsup.children || die "no escaped child"
old_main=$(main_pid killsup)
old_child=$(head -n 1 /run/cgtest/killsup.children)
sup=$(supervisor_pid killsup)
[ -n "$sup" ] || die "no supervisor in $CG/svc/killsup/supervisor"
in_leaf killsup "$old_child" || die "escaped child $old_child not in the leaf ($(members killsup))"
echo "supervisor $sup, main $old_main, escaped $old_child; leaf: $(members killsup)"

kill -9 "$sup"
replaced() {
  s=$(supervisor_pid killsup)
  m=$(main_pid killsup)
  [ -n "$s" ] && [ "$s" != "$sup" ] && [ "$(state killsup)" = ready ] &&
    [ -n "$m" ] && [ "$m" != "$old_main" ] && [ "$m" != "-" ]
}
wait_until 30 replaced || die "no new copy under a new supervisor: $(svcctl status killsup 2>&1 | head -n 5 | tr '\n' '|')"
wait_until 10 test "$(wc -l </run/cgtest/killsup.children)" -ge 2 || die "the new copy's child never started"
gone "$old_main" || die "the old main $old_main survived"
gone "$old_child" || die "the old escaped child $old_child survived"
live=0
for p in $(cat /run/cgtest/killsup.children); do alive "$p" && live=$((live + 1)); done
[ "$live" -eq 1 ] || die "$live escaped children alive: two copies"
echo "replaced: supervisor $(supervisor_pid killsup), main $(main_pid killsup); leaf: $(members killsup)"
svcctl stop killsup >/dev/null || die "svcctl stop killsup failed"
leaf_empty killsup || die "leaf not empty after the stop: $(members killsup)"
