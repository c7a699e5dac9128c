# A forking service whose pid file (root's, in a root-owned directory:
# trusted without cgroups) names a process outside the service's cgroup:
# refused, the start fails, and the stop leaves that process alone.
. /usr/lib/cgtest/guest-lib

sleep 100000 &
foreign=$!
declare_service foreignpid <<INI
[service]
type = forking
pidfile = /run/cgtest/foreign.pid
exec = /bin/sh -c "echo $foreign >/run/cgtest/foreign.pid"
ready-timeout = 2s
stop-timeout = 1s
restart = never
INI

svcctl start foreignpid >/dev/null 2>&1 && die "the start succeeded with a foreign pid"
st=$(svcctl status foreignpid 2>&1)
echo "$st" | head -n 3
[ "$(main_pid foreignpid)" != "$foreign" ] || die "the foreign pid $foreign became the main pid"
echo "$st" | grep -q "not a process of the service's cgroup" || die "no notice in the log: $st"
svcctl stop foreignpid >/dev/null 2>&1
alive "$foreign" || die "the foreign process $foreign was killed"
kill "$foreign"
