#!/usr/bin/env bash
# Build a stand-in for the Dockerfile's base image from Debian packages and import it under
# the exact tag the Dockerfile's FROM names, for machines that reach Debian's mirrors but no
# container registry. Debian bookworm's python3.11 replaces the official image's /usr/local
# build; the Dockerfile only relies on `python3 -m venv`, so either base works.
# Usage: deploy/base-image.sh [TAG]   (FORCE=1 rebuilds an existing image)
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
ENGINE=${ENGINE:-podman}
case $TAG in */*) ref=$TAG ;; *) ref=docker.io/library/$TAG ;; esac

if [[ -z ${FORCE:-} ]] && $ENGINE image exists "$ref"; then
    echo "base-image: $ref already present (FORCE=1 rebuilds)"
    exit 0
fi

root=$(mktemp -d /var/tmp/base-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap $SUITE from $MIRROR into $root"
debootstrap --variant=minbase \
    --include=python3.11,python3.11-venv,python3-venv,python-is-python3,ca-certificates \
    "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"

# The same apt sources as the official images, so `apt-get install` in a Dockerfile works.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

echo "base-image: importing as $ref"
tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$root" -cf - . |
    $ENGINE import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --message "debootstrap $SUITE + python3.11 (local stand-in for $TAG)" - "$ref"
$ENGINE run --rm "$ref" python3 -c 'import sys, venv, ssl; print("base-image: python", sys.version.split()[0])'
