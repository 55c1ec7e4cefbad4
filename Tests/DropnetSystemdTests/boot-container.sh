#!/usr/bin/env bash
# Boots this machine's own root under a real systemd in a container (as root), for
# DropnetSystemdTests (SystemdContainer.swift starts it and stops it with SIGTERM):
#
#   NOTIFY_SOCKET=SOCKET boot-container.sh FOLDER NAME PACKAGE
#
# FOLDER/merged is an overlay of / whose writes all land in FOLDER/upper: the machine's root
# is never changed. The overlay is mounted in a mount namespace of this script's own, so the
# host never sees it and the kernel removes it with the last process inside. The script moves
# itself into a cgroup NAME of its own first (systemd-nspawn --keep-unit puts the container in
# payload/ and itself in supervisor/ of the cgroup it starts in, and two test runs must not
# share them); FOLDER/cgroups lists the folders made, for the caller to remove. Then it
# becomes systemd-nspawn, which sends X_NSPAWN_LEADER_PID= and READY=1 to NOTIFY_SOCKET.
# PACKAGE (the dropnet checkout under test) is bound read-only at its own path: the overlay
# holds it already, except where nspawn mounts a fresh tmpfs (/tmp, a clone's usual place).
set -euo pipefail
folder=${1:?usage: boot-container.sh FOLDER NAME PACKAGE}
name=${2:?usage: boot-container.sh FOLDER NAME PACKAGE}
package=${3:?usage: boot-container.sh FOLDER NAME PACKAGE}

if [[ "${DROPNET_BOOT_NAMESPACE:-}" != "$name" ]]; then
  # Read before moving: /proc/self/cgroup changes as this process moves.
  mapfile -t memberships </proc/self/cgroup
  for membership in "${memberships[@]}"; do
    IFS=: read -r _ controllers path <<<"$membership"
    case "$controllers" in
    name=systemd) hierarchy=/sys/fs/cgroup/systemd ;;
    "") if [[ -d /sys/fs/cgroup/unified ]]; then hierarchy=/sys/fs/cgroup/unified; else hierarchy=/sys/fs/cgroup; fi ;;
    *) continue ;;
    esac
    cgroup="${hierarchy}${path%/}/$name"
    mkdir "$cgroup"
    echo "$cgroup" >>"$folder/cgroups"
    echo $$ >"$cgroup/cgroup.procs"
  done
  DROPNET_BOOT_NAMESPACE=$name exec unshare --mount --propagation private -- /bin/bash "$0" "$@"
fi

mkdir -p "$folder/upper" "$folder/work" "$folder/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$folder/upper,workdir=$folder/work" \
  "$folder/merged"
# --private-network: the container's services never touch this machine's network.
# --system-call-filter=@memlock: nspawn allows mlock only to containers that keep
# CAP_IPC_LOCK, a host allows it within RLIMIT_MEMLOCK; libgcrypt (loaded with FFmpeg) locks
# memory at start and warns on stderr when it cannot (see systemd/README.md).
# --unit=basic.target: the host's own services (its multi-user.target) are not under test.
exec systemd-nspawn --quiet --directory="$folder/merged" --machine="$name" --boot \
  --register=no --keep-unit --private-network --console=pipe --notify-ready=yes \
  --system-call-filter=@memlock --bind-ro="$package" -- --unit=basic.target
