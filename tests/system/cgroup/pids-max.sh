# pids-max = 10 stops a fork bomb at 10 tasks: every process of the bomb
# forks again and again (a shell whose fork is refused exits, another
# takes its place), the kernel refuses every task beyond the 10th
# (pids.events max grows), the count never goes above 10, status shows
# the tasks, and a stop ends them all. The bomb waits for a go file, so
# that it never runs without its limit (pids.max is checked first); its
# main process execs a sleep, so the service itself stays up.
. /usr/lib/cgtest/guest-lib

grep -qw pids "$CG/svc/cgroup.subtree_control" ||
  die "the pids controller is not enabled in $CG/svc ($(cat "$CG/svc/cgroup.subtree_control"))"

rm -f /run/cgtest/bomb-go
declare_service bomb <<'INI'
[service]
exec = /bin/sh -c 'while [ ! -e /run/cgtest/bomb-go ]; do sleep 0.1; done; b() { while :; do b & sleep 0.2; done; }; b & exec sleep 100000'
pids-max = 10
cpu-max = 50%
stop-timeout = 2s
INI

svcctl start bomb >/dev/null || die "svcctl start bomb failed"
l=$(leaf bomb)
max=$(cat "$l/pids.max")
[ "$max" = 10 ] || { svcctl stop bomb; die "pids.max of $l is '$max', not 10: no bomb without it"; }
main=$(main_pid bomb)
in_leaf bomb "$main" || { svcctl stop bomb; die "main pid $main is not in $l: no bomb outside its cgroup"; }
touch /run/cgtest/bomb-go
refused() { awk '$1 == "max" { exit !($2 > 0) }' "$l/pids.events"; }
wait_until 30 refused || die "no fork was refused (pids.events: $(cat "$l/pids.events"))"
at_max() { [ "$(cat "$l/pids.current")" = 10 ]; }
wait_until 10 at_max || die "pids.current never reached 10 ($(cat "$l/pids.current"))"
i=0
while [ "$i" -lt 10 ]; do
  cur=$(cat "$l/pids.current")
  [ "$cur" -le 10 ] || die "pids.current is $cur, above pids-max 10"
  i=$((i + 1))
  sleep 0.1
done
echo "pids.current $(cat "$l/pids.current"), pids.events: $(tr '\n' ' ' <"$l/pids.events")"
tasks=$(svcctl --json status bomb | sed -n 's/.*"tasks":\([0-9]*\).*/\1/p')
[ -n "$tasks" ] && [ "$tasks" -ge 1 ] && [ "$tasks" -le 10 ] || die "usage.tasks is '$tasks', not 1 to 10"
svcctl status bomb | grep -q '^  tasks:      ' || die "the detail shows no tasks"
[ "$(main_pid bomb)" = "$main" ] || die "the main process changed ($main -> $(main_pid bomb))"
svcctl stop bomb >/dev/null || die "svcctl stop bomb failed"
leaf_empty bomb || die "after the stop the leaf still holds: $(members bomb)"
echo "fork bomb held at 10 tasks"
