# Without cgroup2 on /sys/fs/cgroup (a second manager in a mount namespace
# where it is a tmpfs): the manager says once that cgroups are not in
# use, and everything works as before.
. /usr/lib/cgtest/guest-lib

B=/run/cgtest/nocg
rm -rf "$B"
mkdir -p "$B/services" "$B/run" "$B/log" "$B/enabled/default"
cat >"$B/services/default.ini" <<'INI'
[target]
description = the second manager's target
INI
cat >"$B/services/plain.ini" <<'INI'
[service]
exec = /bin/sleep 100000
INI
: >"$B/enabled/default/plain"
unshare -m sh -c "mount --make-rprivate / && mount -t tmpfs none /sys/fs/cgroup &&
  exec svc-manager --services $B/services --enabled $B/enabled --socket $B/sock \
    --runtime-dir $B/run --log-dir $B/log --runtime-base $B/run" >"$B/manager.log" 2>&1 &
mgr=$!
S="svcctl --socket $B/sock"
up() { $S status plain >/dev/null 2>&1; }
wait_until 20 up || die "the second manager did not start plain: $(tr '\n' '|' <"$B/manager.log")"
grep -q 'cgroups not in use' "$B/manager.log" || die "no 'cgroups not in use' line: $(tr '\n' '|' <"$B/manager.log")"
grep 'cgroups not in use' "$B/manager.log"
pid=$($S status 2>/dev/null | awk '$1 == "plain" { print $3 }')
cat "/proc/$pid/cgroup"
grep -q '/svc/plain' "/proc/$pid/cgroup" && die "plain runs in a svc cgroup without cgroups"
st=$($S status 2>&1)
echo "$st"
# Where status speaks of cgroups at all, it must say they are not in use.
if echo "$st" | grep -qi cgroup; then
  echo "$st" | grep -qi 'not in use' || die "status speaks of cgroups, not 'not in use'"
fi
kill -TERM "$mgr"
wait_until 20 gone "$mgr" || die "the second manager did not stop"
gone "$pid" || die "plain outlived its manager's stop"
