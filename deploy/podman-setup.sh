#!/usr/bin/env bash
# Prepare a Debian machine without a Docker engine for `make container-test`: podman with runc
# (crun fails on cgroup v1 sandboxes), debootstrap for the local base image, and container rlimits
# this machine can grant (podman asks for more open files/processes than a sandbox without
# CAP_SYS_RESOURCE allows, and runc then fails with "error setting rlimit ... operation not permitted").
set -euo pipefail

packages=(podman runc debootstrap uidmap slirp4netns netavark aardvark-dns containernetworking-plugins)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "podman-setup: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# podman's conmon gets at most 32768 processes; never ask for more than this shell may have.
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[[ $nofile == unlimited ]] && nofile=1048576
[[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
conf=/etc/containers/containers.conf.d/50-container-test.conf
mkdir -p "$(dirname "$conf")"
cat >"$conf" <<CONF
# Written by deploy/podman-setup.sh (make container-test).
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
CONF
echo "podman-setup: $(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}'), limits nofile=$nofile nproc=$nproc"
