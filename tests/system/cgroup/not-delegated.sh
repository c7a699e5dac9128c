# A second manager started inside another service's cgroup (this
# scenario runs in cgtest-run's leaf, neither the cgroup mounted on
# /sys/fs/cgroup nor delegated): it leaves that cgroup alone (no processes
# moved, nothing created) and runs without cgroups.
. /usr/lib/cgtest/guest-lib

B=/run/cgtest/nodeleg
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
rm -rf "$B"
mkdir -p "$B/services" "$B/run" "$B/log" "$B/enabled/default"
printf '[target]\n' >"$B/services/default.ini"
printf '[service]\nexec = /bin/sleep 100000\n' >"$B/services/plain.ini"
: >"$B/enabled/default/plain"
svc-manager --services "$B/services" --enabled "$B/enabled" --socket "$B/sock" \
  --runtime-dir "$B/run" --log-dir "$B/log" --runtime-base "$B/run" >"$B/manager.log" 2>&1 &
mgr=$!
S="svcctl --socket $B/sock"
up() { $S status plain >/dev/null 2>&1; }
wait_until 20 up || die "the second manager did not start plain: $(tr '\n' '|' <"$B/manager.log")"
grep 'cgroups not in use' "$B/manager.log" || die "no 'cgroups not in use' line: $(tr '\n' '|' <"$B/manager.log")"
grep -q 'nor delegated' "$B/manager.log" || die "not in use for another reason"
[ ! -e "$CG$own/init" ] && [ ! -e "$CG$own/svc" ] || die "the manager made cgroups in $CG$own: $(ls "$CG$own" | tr '\n' ' ')"
grep -qx "$mgr" "$CG$own/cgroup.procs" || die "the manager left its cgroup $own"
kill -TERM "$mgr"
wait_until 20 gone "$mgr" || die "the second manager did not stop"
