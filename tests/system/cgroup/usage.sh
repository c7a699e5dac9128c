# svcctl status shows what a service uses, and it moves: memory current
# and peak grow by what the service allocates (60M in a shell variable,
# on a go file), CPU time grows, tasks are counted; the table has a MEM
# column; --json has a usage object, and null once the service is gone.
. /usr/lib/cgtest/guest-lib

rm -f /run/cgtest/usage-go
declare_service usage <<'INI'
[service]
exec = /bin/sh -c 'while [ ! -e /run/cgtest/usage-go ]; do sleep 0.1; done; sleep 100000 & x=$(yes | head -c 62914560); echo allocated; while :; do sleep 1; done'
INI

svcctl start usage >/dev/null || die "svcctl start usage failed"
num() { svcctl --json status usage | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
m0=$(num memory_current)
c0=$(num cpu_usec)
echo "before: memory_current $m0, cpu_usec $c0, tasks $(num tasks)"
[ -n "$m0" ] && [ -n "$c0" ] || die "no usage: $(svcctl --json status usage)"
[ "$m0" -lt 20971520 ] || die "memory_current $m0 before allocating is already 20M or more"
svcctl status | head -n 1 | grep -q ' MEM ' || die "no MEM column: $(svcctl status | head -n 1)"
svcctl status usage | grep -q '^  memory:     .* (peak .*)$' || die "no memory line in the detail"

touch /run/cgtest/usage-go
grown() { [ "$(num memory_current)" -ge $((m0 + 50 * 1048576)) ]; }
wait_until 30 grown || die "memory_current did not grow by 50M: $(num memory_current) (was $m0)"
m1=$(num memory_current)
p1=$(num memory_peak)
c1=$(num cpu_usec)
t1=$(num tasks)
echo "after: memory_current $m1, memory_peak $p1, cpu_usec $c1, tasks $t1"
svcctl status usage
svcctl status | grep '^usage '
[ "$p1" -ge "$m1" ] || die "memory_peak $p1 below memory_current $m1"
[ "$c1" -gt "$c0" ] || die "cpu_usec did not grow ($c0 -> $c1)"
[ "$t1" -ge 2 ] || die "tasks is $t1 (the shell and its long sleep at least)"
svcctl stop usage >/dev/null || die "svcctl stop usage failed"
svcctl --json status usage | grep -q '"usage":null' ||
  die "usage of a stopped service is not null: $(svcctl --json status usage)"
echo "usage moved with the allocation"
