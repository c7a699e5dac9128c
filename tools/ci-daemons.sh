#!/bin/sh
# Installs the Debian daemons that svc-manager/tests/daemons.rs runs under
# svc (nginx, rsyslog, curl), without letting their maintainer scripts start
# them on the host: Debian's nginx postinst would otherwise bind port 80.
# Idempotent: returns at once when everything is already installed.
set -eu

packages="nginx-light rsyslog curl"

missing=""
for pkg in $packages; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $pkg"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo "$0" "$@"
    fi
    echo "ci-daemons.sh: need root to install:$missing" >&2
    exit 1
fi

# policy-rc.d exit 101 = "action forbidden": invoke-rc.d and
# deb-systemd-invoke then start nothing. An existing policy is set aside for
# the install and put back afterwards; ours is removed.
policy=/usr/sbin/policy-rc.d
saved="$policy.svc-ci-daemons"
if [ -e "$policy" ] || [ -L "$policy" ]; then
    mv -f "$policy" "$saved"
fi
restore_policy() {
    rm -f "$policy"
    if [ -e "$saved" ] || [ -L "$saved" ]; then
        mv -f "$saved" "$policy"
    fi
}
trap restore_policy EXIT
trap 'exit 1' INT TERM HUP
printf '#!/bin/sh\n# written by svc tools/ci-daemons.sh for the install\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
# Another apt-get (an unattended upgrade, a parallel job) may hold the dpkg
# lock: wait for it rather than fail.
apt_wait="-o DPkg::Lock::Timeout=300"
# shellcheck disable=SC2086
if ! apt-get $apt_wait install -y --no-install-recommends $missing; then
    apt-get $apt_wait update
    # shellcheck disable=SC2086
    apt-get $apt_wait install -y --no-install-recommends $missing
fi

# The policy should have kept them stopped; if a daemon started anyway,
# stop it by the pid in its pidfile, never by name.
for pidfile in /run/nginx.pid /var/run/nginx.pid /run/rsyslogd.pid /var/run/rsyslogd.pid; do
    if [ -s "$pidfile" ]; then
        pid=$(cat "$pidfile")
        case "$pid" in
        '' | *[!0-9]*) continue ;;
        esac
        if kill -0 "$pid" 2>/dev/null; then
            echo "ci-daemons.sh: package install started pid $pid ($pidfile); stopping it" >&2
            kill -TERM "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
                sleep 0.1
                i=$((i + 1))
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
done
