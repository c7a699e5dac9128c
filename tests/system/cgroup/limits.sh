# Every cgroup key lands in its file of the service's leaf (the weights in
# the service's cgroup, the leaf's parent: a weight divides among the
# services, its siblings), and a rescan
# with changed keys writes the new values into the running service
# without restarting it (a key removed goes back to the kernel's default).
. /usr/lib/cgtest/guest-lib

declare_service limits <<'INI'
[service]
exec = /bin/sleep 100000
memory-max = 64M
memory-high = 48M
cpu-weight = 50
cpu-max = 50%
pids-max = 20
io-weight = 200
memory-swap-max = 0
INI
svcctl start limits >/dev/null || die "svcctl start limits failed"
l=$(leaf limits)
pid=$(main_pid limits)
echo "leaf $l, controllers: $(cat "$l/../cgroup.subtree_control")"
check() {
  case $1 in *.weight) f=$l/../$1 ;; *) f=$l/$1 ;; esac
  v=$(cat "$f" 2>/dev/null) || die "$f cannot be read"
  [ "$v" = "$2" ] || die "$f is '$v', not '$2'"
}
check memory.max 67108864
check memory.high 50331648
check cpu.weight 50
check cpu.max "50000 100000"
check pids.max 20
# Without swap accounting there is no memory.swap.max: that key alone is
# skipped, with one warning naming it, and the service runs.
if [ -e "$l/memory.swap.max" ]; then
  check memory.swap.max 0
else
  grep -q "limits: 'memory-swap-max' not applied: $l/memory.swap.max is missing" \
    /var/log/svc/boot.log /run/svc/log/boot.log 2>/dev/null ||
    die "no memory.swap.max, and no warning naming memory-swap-max"
  echo "no memory.swap.max: skipped with a warning"
fi
if [ -e "$l/../io.weight" ]; then
  check io.weight "default 200"
else
  echo "no io.weight (no io controller): not checked"
fi

cat >/run/svc/services.d/limits.ini <<'INI'
[service]
exec = /bin/sleep 100000
memory-max = 128M
cpu-max = 20ms/100ms
pids-max = 30
INI
# rescan exits 1 on warnings too (the shipped targets' getty@ ones here).
errs=$(svcctl rescan 2>&1 >/dev/null | grep -v ': warning: ')
[ -z "$errs" ] || die "svcctl rescan: $errs"
check memory.max 134217728
check memory.high max
check cpu.weight 100
check cpu.max "20000 100000"
check pids.max 30
[ ! -e "$l/memory.swap.max" ] || check memory.swap.max max
[ "$(main_pid limits)" = "$pid" ] || die "the service was restarted (pid $pid -> $(main_pid limits))"
svcctl stop limits >/dev/null || die "svcctl stop limits failed"
echo "limits written, and rewritten by a rescan"
