# A service with memory-max = 32M that allocates 100M (a shell keeping
# the output of `yes | head -c 100M` in a variable) is killed by the OOM
# killer, and svc says so: the status reason, the JSON usage's oom_kills,
# and the manager's log line.
. /usr/lib/cgtest/guest-lib

grep -qw memory "$CG/svc/cgroup.subtree_control" ||
  die "the memory controller is not enabled in $CG/svc ($(cat "$CG/svc/cgroup.subtree_control"))"

declare_service oom <<'INI'
[service]
exec = /bin/sh -c 'echo allocating; x=$(yes | head -c 104857600); echo survived with ${#x} bytes; exec sleep 100000'
memory-max = 32M
restart = never
INI

svcctl start --no-wait oom >/dev/null || die "svcctl start oom failed"
failed() { [ "$(state oom)" = failed ]; }
wait_until 60 failed ||
  die "oom is $(state oom), not failed: $(svcctl status oom)"
max=$(cat "$(leaf oom)/memory.max")
[ "$max" = 33554432 ] || die "memory.max of $(leaf oom) is '$max', not 33554432"
detail=$(svcctl status oom)
echo "$detail"
echo "$detail" | grep -q '^  last exit:  signal 9$' || die "the last exit is not signal 9"
echo "$detail" | grep -q '^  reason:     killed by the OOM killer (memory-max 32M)$' ||
  die "the reason does not name the OOM killer"
echo "$detail" | grep -q '^  oom kills:  [1-9]' || die "no oom kills in the detail"
json=$(svcctl --json status oom)
echo "$json"
echo "$json" | grep -q '"reason":"killed by the OOM killer (memory-max 32M)"' ||
  die "the JSON reason does not name the OOM killer"
kills=$(echo "$json" | sed -n 's/.*"oom_kills":\([0-9]*\).*/\1/p')
[ "${kills:-0}" -ge 1 ] || die "usage.oom_kills is '$kills'"
wait_until 5 grep -q 'oom: killed by the OOM killer (memory-max 32M)' \
  /var/log/svc/boot.log /run/svc/log/boot.log 2>/dev/null ||
  die "no manager log line about the OOM kill"
svcctl stop oom >/dev/null || die "svcctl stop oom failed"
echo "OOM kill reported"
