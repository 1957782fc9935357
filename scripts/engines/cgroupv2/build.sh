#!/usr/bin/env bash
# Builds the root file system of the `cgroupv2` engine's guest, once:
#   scripts/engines/cgroupv2/build.sh KERNEL_VERSION OUT_IMAGE
# (called by scripts/engines/cgroupv2.sh up, which caches OUT_IMAGE by the kernel
# version and a hash of this script and init.sh).
#
# - debootstrap (minbase) of Debian bookworm from the mirror apt is configured with, with
#   busybox-static, iproute2 and kmod; docker.io is installed afterwards in the chroot
#   (with docker.io in --include, debootstrap fails: "dpkg: error: --install needs at
#   least one package archive file argument"). No service starts in the chroot
#   (policy-rc.d says 101).
# - The host's /lib/modules/KERNEL_VERSION is copied in (the guest boots the host's
#   Debian kernel and initrd from /boot), and init.sh becomes /init.sh, the guest's PID 1.
# - An ext4 image (sparse, 3G) is made from the folder with mkfs.ext4 -d; the folder is
#   removed. The image is never written by a boot: each boot writes a qcow2 overlay.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KVER="${1:?kernel version}"
OUT="${2:?output image}"
MIRROR="${SECURE_RUN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm

say() { printf 'engines/cgroupv2/build.sh: %s\n' "$*" >&2; }

[ -d "/lib/modules/$KVER" ] || { say "error: /lib/modules/$KVER missing"; exit 1; }
work="$(mktemp -d "$(dirname "$OUT")/build.XXXXXX")"
root="$work/root"
cleanup() {
    local m
    for m in dev/pts dev proc sys; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
    done
    rm -rf "$work"
}
trap cleanup EXIT

start=$SECONDS
say "debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include=busybox-static,iproute2,kmod,procps \
    "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
say "debootstrap done in $((SECONDS - start))s; installing docker.io"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends docker.io >"$work/apt.log" 2>&1 ||
    { tail -n 20 "$work/apt.log" >&2; exit 1; }
chroot "$root" apt-get clean
umount "$root/dev" "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"
rm -rf "$root/var/lib/apt/lists/"*

mkdir -p "$root/lib/modules"
cp -a "/lib/modules/$KVER" "$root/lib/modules/"
install -m 0755 "$here/init.sh" "$root/init.sh"
echo cgroupv2 >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 cgroupv2\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"

say "mkfs.ext4 (root is $(du -sh "$root" | cut -f1))"
mkfs.ext4 -q -F -L sr-cgroupv2 -d "$root" "$work/root.img" 3G
mv "$work/root.img" "$OUT"
say "built $OUT in $((SECONDS - start))s"
