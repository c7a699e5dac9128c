#!/usr/bin/env bash
# Install what the system tests need on a Debian 12 (bookworm) machine, as
# root, idempotently:
#   - qemu-system-x86 and qemu-utils from bookworm-backports (a plain
#     bookworm qemu-system-x86 would replace the machine's newer qemu-utils);
#     backports comes in through a separate sources file passed with
#     -o Dir::Etc::SourceList, so the machine's own apt configuration is left
#     as it is;
#   - busybox-static, cpio, socat (qemu monitor), systemd-container, podman,
#     runc, plus binutils (readelf) and the shell tools the scripts use;
#   - for disk-boot.sh: debootstrap, e2fsprogs (mkfs.ext4 -d, e2fsck,
#     debugfs), kmod (depmod, modprobe --show-depends), make;
#   - a kernel: the package linux-image-cloud-amd64 depends on, fetched with
#     `apt-get download` and unpacked with dpkg-deb -x into the cache (never
#     installed). Its path is written to $SVC_TEST_CACHE/kernel/vmlinuz;
#   - the Debian packages the import tests read (apt-get download into
#     $SVC_TEST_CACHE/import-debs, never installed).
set -euo pipefail

SVC_TEST_CACHE=${SVC_TEST_CACHE:-/var/cache/svc-tests}
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (apt-get)" >&2
  exit 1
fi

mkdir -p "$SVC_TEST_CACHE/apt" "$SVC_TEST_CACHE/kernel"

# The Debian mirror the machine already uses (deb822 or one-line format).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '
      /^URIs:/ { u = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") s = 1 }
      /^$/ { if (u != "" && s) { found = u; exit } u = ""; s = 0 }
      END { if (found == "" && u != "" && s) found = u; if (found != "") print found }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" && $0 ~ / bookworm / {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo http://deb.debian.org/debian
}

BACKPORTS_LIST=$SVC_TEST_CACHE/apt/bookworm-backports.list
mirror=$(debian_mirror)
# Dir::Etc::SourceList replaces /etc/apt/sources.list (sources.list.d/ is
# still read), so the file carries the machine's own sources.list first.
{
  [ -f /etc/apt/sources.list ] && cat /etc/apt/sources.list
  echo "deb $mirror bookworm-backports main"
} >"$BACKPORTS_LIST.new"
mv "$BACKPORTS_LIST.new" "$BACKPORTS_LIST"
# DPkg::Lock::Timeout: wait for another apt-get holding the dpkg lock
# rather than fail.
APT_BPO=(-o "Dir::Etc::SourceList=$BACKPORTS_LIST" -o DPkg::Lock::Timeout=300)

missing() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[*]}"
}

plain_pkgs=(busybox-static cpio socat systemd-container podman runc binutils
  util-linux procps coreutils gzip tar debootstrap e2fsprogs kmod make)
bpo_pkgs=(qemu-system-x86 qemu-utils)

need_plain=$(missing "${plain_pkgs[@]}")
need_bpo=$(missing "${bpo_pkgs[@]}")
kernel_link=$SVC_TEST_CACHE/kernel/vmlinuz
updated=no

if [ -n "$need_plain$need_bpo" ] || [ ! -e "$kernel_link" ]; then
  # The machine's sources plus backports, in one update.
  apt-get "${APT_BPO[@]}" update -qq
  updated=yes
fi

if [ -n "$need_bpo" ]; then
  echo "installing from bookworm-backports: qemu-system-x86 qemu-utils"
  apt-get "${APT_BPO[@]}" install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-x86 qemu-utils
fi

if [ -n "$need_plain" ]; then
  echo "installing: $need_plain"
  # shellcheck disable=SC2086
  apt-get "${APT_BPO[@]}" install -y -qq --no-install-recommends $need_plain
fi

if [ ! -e "$kernel_link" ]; then
  [ "$updated" = yes ] || apt-get "${APT_BPO[@]}" update -qq
  # The versioned image package the metapackage points at.
  kpkg=$(apt-cache "${APT_BPO[@]}" depends linux-image-cloud-amd64 |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  if [ -z "$kpkg" ]; then
    echo "install-deps.sh: cannot find the package linux-image-cloud-amd64 depends on" >&2
    exit 1
  fi
  echo "downloading kernel package $kpkg"
  dl=$SVC_TEST_CACHE/kernel/download
  rm -rf "$dl" && mkdir -p "$dl"
  # apt-get download drops privileges to _apt when it can write there.
  id _apt >/dev/null 2>&1 && chown _apt "$dl"
  (cd "$dl" && apt-get "${APT_BPO[@]}" download "$kpkg")
  tree=$SVC_TEST_CACHE/kernel/$kpkg
  rm -rf "$tree"
  dpkg-deb -x "$dl"/"$kpkg"_*.deb "$tree"
  images=("$tree"/boot/vmlinuz-*)
  ln -sfn "${images[0]}" "$kernel_link"
  rm -rf "$dl"
fi

# The Debian packages whose init scripts, units and runit directories the
# import tests read (svcctl/tests/import_*.rs, tests/system/import*.sh):
# downloaded once, never installed.
import_debs=$SVC_TEST_CACHE/import-debs
mkdir -p "$import_debs"
for pkg in nginx-common openssh-server rsyslog cron runit-services openrc; do
  if ! compgen -G "$import_debs/${pkg}_*.deb" >/dev/null; then
    dl=$import_debs/.dl-$pkg
    rm -rf "$dl" && mkdir -p "$dl"
    id _apt >/dev/null 2>&1 && chown _apt "$dl"
    (cd "$dl" && apt-get "${APT_BPO[@]}" download -qq "$pkg")
    mv "$dl"/"${pkg}"_*.deb "$import_debs"/
    rm -rf "$dl"
  fi
done

echo "kernel: $(readlink -f "$kernel_link")"
echo "qemu: $(qemu-system-x86_64 --version | head -n1)"
echo "qemu-img: $(qemu-img --version | head -n1)"
echo "install-deps.sh: done"
