#!/usr/bin/env bash
# Installs dropnet as a systemd service in one command (as root); idempotent: run it again after
# a new build and it replaces the binary and units, restarts what runs, and keeps every
# configuration and data folder as they are.
#
#   sudo systemd/install.sh                      # dropnet.service
#   sudo systemd/install.sh --instance team2     # dropnet@team2.service, its own folders
#   sudo systemd/install.sh --uninstall          # units, binary, sysusers file; data stays
#   systemd/install.sh --help
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary_target=/usr/local/bin/dropnet
unit_folder=/etc/systemd/system
sysusers_target=/usr/lib/sysusers.d/dropnet.conf
config_folder=/etc/dropnet
state_root=/var/lib/dropnet
weights=$state_root/mobilenet_v1_imagenet.safetensors
graph=$repo/examples/weights/mobilenet_v1_imagenet.pb
serve_root=/srv/dropnet

usage() {
  cat <<EOF
Usage: systemd/install.sh [--binary PATH] [--instance NAME] [--no-start]
       systemd/install.sh --uninstall [--instance NAME]

Installs dropnet under systemd (as root). Run again at any time: it is idempotent.

  --binary PATH     the dropnet executable to install (default: the release build,
                    \$(swift build -c release --show-bin-path)/dropnet, built when missing)
  --instance NAME   install dropnet@NAME instead of dropnet: configuration
                    $config_folder/NAME.toml, drop folder $serve_root/NAME/drop, models in
                    $serve_root/NAME/models, state in $state_root/NAME
                    (NAME: lower-case letters, digits, '-' and '_')
  --no-start        install and enable, but do not start (or restart) the service
  --uninstall       stop and disable the service(s), remove the units, the binary and the
                    sysusers file; keep the configuration, state, drop folders and models
                    (with --instance NAME: stop and disable only dropnet@NAME)
  -h, --help        this help

Installs: $binary_target, $unit_folder/dropnet.service and dropnet@.service,
$sysusers_target (user and group dropnet), $config_folder/dropnet.toml (or NAME.toml; an
existing file is never overwritten), the ImageNet weights in $weights
(imported from examples/weights/mobilenet_v1_imagenet.pb, fetched by
examples/fetch-weights.sh when missing), and the folders: $state_root (dropnet, 0750),
the drop folder (root:dropnet 2775: members of group dropnet drop movies) and the models
folder (dropnet, 0755: everyone reads the published models). Existing folders are kept as
they are. Then systemd-sysusers, systemctl daemon-reload, enable and start.
EOF
}

say() { echo "dropnet install: $*"; }
fail() {
  echo "dropnet install: error: $*" >&2
  exit 1
}

binary=""
instance=""
start=1
uninstall=0
while (($# > 0)); do
  case "$1" in
  --binary)
    (($# >= 2)) || fail "--binary needs a path"
    binary=$2
    shift 2
    ;;
  --binary=*)
    binary=${1#--binary=}
    shift
    ;;
  --instance)
    (($# >= 2)) || fail "--instance needs a name"
    instance=$2
    shift 2
    ;;
  --instance=*)
    instance=${1#--instance=}
    shift
    ;;
  --no-start)
    start=0
    shift
    ;;
  --uninstall)
    uninstall=1
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) fail "unknown option $1 (see --help)" ;;
  esac
done

if [[ -n "$instance" ]]; then
  [[ "$instance" =~ ^[a-z0-9][a-z0-9_-]{0,63}$ ]] ||
    fail "instance name '$instance': use lower-case letters, digits, '-' and '_' (at most 64)"
  # dropnet@dropnet would read dropnet.service's configuration; dropnet@frames would keep its
  # state in dropnet.service's frames folder.
  [[ "$instance" != dropnet && "$instance" != frames ]] ||
    fail "instance name '$instance' is reserved; choose another"
  unit="dropnet@$instance.service"
  config="$config_folder/$instance.toml"
  drop="$serve_root/$instance/drop"
  models="$serve_root/$instance/models"
  state="$state_root/$instance"
else
  unit=dropnet.service
  config="$config_folder/dropnet.toml"
  drop="$serve_root/drop"
  models="$serve_root/models"
  state="$state_root"
fi

[[ $(id -u) -eq 0 ]] || fail "run as root (sudo bash systemd/install.sh ...)"

# systemctl can enable units offline (an image build, a chroot); starting needs a running systemd.
if [[ -d /run/systemd/system ]]; then systemd_running=1; else systemd_running=0; fi

if ((uninstall)); then
  if [[ -n "$instance" ]]; then
    if ((systemd_running)); then
      systemctl disable --now "$unit" 2>/dev/null || true
      systemctl reset-failed "$unit" 2>/dev/null || true
    else
      systemctl disable "$unit" 2>/dev/null || true
    fi
    say "stopped and disabled $unit"
    say "kept $config, $state, $drop and $models (remove them by hand if they are no longer needed)"
    exit 0
  fi
  if ((systemd_running)); then
    # The running instances, and the enabled ones (which may not be loaded).
    mapfile -t units < <(
      {
        systemctl list-units --all --plain --no-legend 'dropnet.service' 'dropnet@*.service' |
          awk '{print $1}'
        find "$unit_folder" -path '*.wants/dropnet*.service' -printf '%f\n' 2>/dev/null
      } | sort -u
    )
    if ((${#units[@]} > 0)); then
      systemctl disable --now "${units[@]}" 2>/dev/null || true
      systemctl reset-failed "${units[@]}" 2>/dev/null || true
      say "stopped and disabled ${units[*]}"
    fi
  fi
  systemctl disable dropnet.service dropnet@.service 2>/dev/null || true
  removed=()
  for file in "$unit_folder/dropnet.service" "$unit_folder/dropnet@.service" "$binary_target" \
    "$sysusers_target"; do
    if [[ -e "$file" ]]; then
      rm -f "$file"
      removed+=("$file")
    fi
  done
  if ((systemd_running)); then systemctl daemon-reload; fi
  if ((${#removed[@]} > 0)); then
    say "removed ${removed[*]}"
  else
    say "nothing to remove: dropnet is not installed"
  fi
  say "kept the data: $config_folder (configuration), $state_root (state, ImageNet weights)," \
    "$serve_root (drop folders and published models) and the user dropnet (it owns them);" \
    "remove them by hand if they are no longer needed"
  exit 0
fi

# The binary: the given one, or the release build (built when missing).
if [[ -z "$binary" ]]; then
  command -v swift >/dev/null || fail "swift is not on the PATH: build dropnet and pass --binary PATH"
  binary="$(cd "$repo" && swift build -c release --show-bin-path)/dropnet"
  if [[ ! -x "$binary" ]]; then
    say "building dropnet (release) in $repo"
    (cd "$repo" && swift build -c release --product dropnet 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]')
  fi
fi
[[ -x "$binary" ]] || fail "$binary is not an executable"

# Files: installed when new or different; `changed` decides whether a running service restarts.
changed=0
put() { # put MODE SOURCE TARGET
  if [[ -f "$3" ]] && cmp -s "$2" "$3"; then return; fi
  install -D -m "$1" "$2" "$3"
  say "installed $3"
  changed=1
}
put 0755 "$binary" "$binary_target"
put 0644 "$repo/systemd/dropnet.service" "$unit_folder/dropnet.service"
put 0644 "$repo/systemd/dropnet@.service" "$unit_folder/dropnet@.service"
put 0644 "$repo/systemd/dropnet.sysusers" "$sysusers_target"
systemd-sysusers "$sysusers_target"

# The configuration: written once, then the administrator's.
install -d -m 0755 "$config_folder"
if [[ -e "$config" ]]; then
  say "kept $config (an existing configuration is never overwritten)"
else
  sed -e "s|^drop = .*|drop = \"$drop\"|" -e "s|^state = .*|state = \"$state\"|" \
    -e "s|^output = .*|output = \"$models\"|" "$repo/systemd/dropnet.toml" >"$config.partial"
  chmod 0644 "$config.partial"
  mv "$config.partial" "$config"
  say "wrote $config"
fi

# Folders: made when missing with these owners and modes; existing ones are left as they are
# (an administrator may have restricted the models folder, see systemd/README.md).
folder() { # folder OWNER:GROUP MODE PATH
  if [[ -d "$3" ]]; then return; fi
  install -d -o "${1%%:*}" -g "${1##*:}" -m "$2" "$3"
  say "made $3 ($1, $2)"
}
folder dropnet:dropnet 0750 "$state_root"
folder root:root 0755 "$serve_root"
if [[ -n "$instance" ]]; then folder root:root 0755 "$serve_root/$instance"; fi
folder root:dropnet 2775 "$drop"
folder dropnet:dropnet 0755 "$models"

# The ImageNet weights every instance starts from.
if [[ -s "$weights" ]]; then
  say "kept $weights"
else
  if [[ ! -f "$graph" ]]; then bash "$repo/examples/fetch-weights.sh"; fi
  "$binary_target" weights import "$graph" --out "$weights.partial" >/dev/null
  chown dropnet:dropnet "$weights.partial"
  chmod 0640 "$weights.partial"
  mv "$weights.partial" "$weights"
  say "imported the ImageNet weights into $weights"
fi

if ((!systemd_running)); then
  systemctl enable "$unit"
  say "systemd is not running here: $unit is enabled and starts at the next boot"
  exit 0
fi
systemctl daemon-reload
systemctl enable --quiet "$unit"
if ((!start)); then
  say "enabled $unit (not started: --no-start); start it with: systemctl start $unit"
elif systemctl is-active --quiet "$unit"; then
  if ((changed)); then
    systemctl restart "$unit"
    say "restarted $unit (its binary or unit changed)"
  else
    say "$unit is running (nothing changed)"
  fi
else
  # Type=notify: returns once the daemon has sent READY=1.
  if ! systemctl start "$unit"; then
    journalctl -u "$unit" -n 20 --no-pager >&2 || true
    fail "$unit did not start; see the log above (journalctl -u $unit)"
  fi
  say "started $unit"
fi
say "drop labelled movies into $drop; models appear in $models"
say "status: systemctl status ${unit%.service}; log: journalctl -u ${unit%.service} -f"
