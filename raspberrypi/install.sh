#!/usr/bin/env bash
# Install, upgrade or remove the room speaker as a systemd service on Raspberry Pi OS (64-bit; trixie,
# and bookworm too) or Debian 13/12. Safe to re-run: an upgrade is the same command. See raspberrypi/README.md.
#
#   sudo raspberrypi/install.sh                 install or upgrade from this checkout, start the service
#   sudo raspberrypi/install.sh --no-start      ... but do not (re)start it
#   sudo raspberrypi/install.sh --with-demo     ... and the Realtime emulator, so `speaker demo` works
#   raspberrypi/install.sh --dry-run            print every action, change nothing (no root needed)
#   sudo raspberrypi/install.sh --uninstall     stop and remove service, venv and user; keep config and state
#   sudo raspberrypi/install.sh --uninstall --purge    ... and delete /etc/speaker and /var/lib/speaker too
#
# Where things go (environment variables, mostly for tests and unusual layouts):
#   SPEAKER_PREFIX    /opt/speaker            the virtualenv is $SPEAKER_PREFIX/venv
#   SPEAKER_ETC       /etc/speaker            speaker.yaml, tools/, secrets.env
#   SPEAKER_STATE     /var/lib/speaker        timers and volume (the unit's StateDirectory=)
#   SPEAKER_UNIT_DIR  /etc/systemd/system     where speaker.service is installed
#   SPEAKER_USER      speaker                 the system user the daemon runs as
#   SPEAKER_PYTHON    python3                 the interpreter the virtualenv is made from
#   SPEAKER_PIWHEELS  auto                    yes/no: add piwheels.org as an extra index (auto: only on
#                                             32-bit Raspberry Pi OS; piwheels has no 64-bit wheels)
#   SPEAKER_ARCH      $(uname -m)             override the detected CPU architecture
#   SPEAKER_ASSUME_SYSTEMD  unset             1: act as if systemd were running (tests use stub commands)
set -euo pipefail
umask 022

PREFIX=${SPEAKER_PREFIX:-/opt/speaker}
ETC=${SPEAKER_ETC:-/etc/speaker}
STATE=${SPEAKER_STATE:-/var/lib/speaker}
UNIT_DIR=${SPEAKER_UNIT_DIR:-/etc/systemd/system}
SVC_USER=${SPEAKER_USER:-speaker}
PYTHON=${SPEAKER_PYTHON:-python3}
PIWHEELS=${SPEAKER_PIWHEELS:-auto}
ARCH=${SPEAKER_ARCH:-$(uname -m)}
UNIT=speaker.service
VENV=$PREFIX/venv
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$SCRIPT_DIR")
APT_PACKAGES=(python3-venv libportaudio2 alsa-utils)
BUILD_PACKAGES=(python3-dev build-essential)

ORIG_ARGS=("$@")
DRY_RUN=0
UNINSTALL=0
PURGE=0
NO_START=0
WITH_DEMO=0

usage() {
  cat <<EOF
usage: install.sh [--dry-run] [--no-start] [--with-demo] [--source DIR]
       install.sh --uninstall [--purge] [--dry-run]

Install or upgrade the room speaker daemon as the systemd service '$UNIT'.

  --dry-run      print every action it would take; change nothing (works without root)
  --no-start     install and enable the service, but do not start or restart it
  --with-demo    also install the Realtime emulator (room-speaker-emulator, from emulator/), which
                 \`speaker demo\` needs; the daemon itself does not
  --source DIR   the checkout to install from (default: $SOURCE)
  --uninstall    stop and disable the service; remove the unit, the virtualenv and the user
  --purge        with --uninstall: also delete $ETC (config, secrets) and $STATE (timers, volume)
  -h, --help     show this help
EOF
}

die_usage() {
  echo "install.sh: $*" >&2
  usage >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --no-start) NO_START=1 ;;
    --with-demo) WITH_DEMO=1 ;;
    --source)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die_usage "--source needs a directory"; fi
      SOURCE=$2
      shift ;;
    --source=*)
      SOURCE=${1#--source=}
      [ -n "$SOURCE" ] || die_usage "--source needs a directory" ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown argument: $1" ;;
  esac
  shift
done
if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then
  die_usage "--purge only makes sense with --uninstall"
fi
if [ "$UNINSTALL" = 1 ] && [ "$NO_START" = 1 ]; then
  die_usage "--no-start does not apply to --uninstall"
fi
if [ "$UNINSTALL" = 1 ] && [ "$WITH_DEMO" = 1 ]; then
  die_usage "--with-demo does not apply to --uninstall"
fi

# ------------------------------------------------------------------ output and actions

if [ -t 1 ]; then BOLD=$'\e[1m'; YELLOW=$'\e[33m'; GREEN=$'\e[32m'; RESET=$'\e[0m'
else BOLD=""; YELLOW=""; GREEN=""; RESET=""; fi

step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '%s    warning: %s%s\n' "$YELLOW" "$*" "$RESET" >&2; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

quoted() {
  local out=() arg
  for arg in "$@"; do out+=("$(printf '%q' "$arg")"); done
  printf '%s' "${out[*]}"
}

# Every command that changes the system goes through run: with --dry-run it is only printed.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '    would run: %s\n' "$(quoted "$@")"
  else
    printf '    + %s\n' "$(quoted "$@")"
    "$@"
  fi
}

# write_file MODE OWNER:GROUP PATH  (content on stdin). Created with the final mode from the start,
# so a secret is never readable by others, not even for a moment.
write_file() {
  local mode=$1 owner=$2 path=$3
  if [ "$DRY_RUN" = 1 ]; then
    cat >/dev/null
    printf '    would write: %s (mode %s, owner %s)\n' "$path" "$mode" "$owner"
    return
  fi
  printf '    + write %s (mode %s, owner %s)\n' "$path" "$mode" "$owner"
  local tmp
  tmp=$(umask 077 && mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$path"
}

# copy_if_absent SRC DST MODE OWNER:GROUP: never overwrites what a user may have edited
copy_if_absent() {
  local src=$1 dst=$2 mode=$3 owner=$4
  if [ -e "$dst" ]; then
    info "kept $dst (already there; yours to edit; the new example is $src)"
    return
  fi
  write_file "$mode" "$owner" "$dst" <"$src"
}

# Why the service cannot be enabled or started on this machine; empty when it can. A dry run only
# looks for systemd; a real run also asks systemctl, which can exist without a systemd to talk to
# (a container, a chroot, an image being prepared).
SYSTEMD_PROBLEM=""
detect_systemd() {
  local out pid1
  if [ "${SPEAKER_ASSUME_SYSTEMD:-}" != 1 ] && [ ! -d /run/systemd/system ]; then
    pid1=$(cat /proc/1/comm 2>/dev/null || echo unknown)
    SYSTEMD_PROBLEM="systemd is not running on this machine (PID 1 is '$pid1'; a container or a chroot?)"
  elif [ "$DRY_RUN" = 1 ]; then
    :
  elif ! command -v systemctl >/dev/null 2>&1; then
    SYSTEMD_PROBLEM="systemctl is not installed"
  elif ! out=$(systemctl show-environment 2>&1 >/dev/null); then
    SYSTEMD_PROBLEM="systemctl cannot talk to systemd (it says: ${out%%$'\n'*})"
  fi
}

# systemctl ARGS: like run, but a failure is reported (and remembered) instead of ending the script
systemctl_step() {
  if run systemctl "$@"; then return 0; fi
  SYSTEMD_PROBLEM=${SYSTEMD_PROBLEM:-"'systemctl $*' failed (its message is above)"}
  warn "'systemctl $*' failed (see its message above)"
  return 1
}

check_path() {  # refuse odd values before they reach sed or rm
  case "$2" in
    /*) ;;
    *) die "$1 must be an absolute path (got '$2')" ;;
  esac
  [[ "$2" =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$ ]] || die "$1 may only contain letters, digits and . _ - / (got '$2')"
  case "$2" in
    /|/bin|/boot|/dev|/etc|/home|/lib|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/local|/var|/var/lib)
      die "$1 must not be a system directory (got '$2')" ;;
  esac
}

remove_tree() {  # remove_tree PATH (only after check_path)
  if [ -e "$1" ] || [ -L "$1" ]; then run rm -rf -- "$1"; else info "$1 is already gone"; fi
}

check_path SPEAKER_PREFIX "$PREFIX"
check_path SPEAKER_ETC "$ETC"
check_path SPEAKER_STATE "$STATE"
[[ "$UNIT_DIR" == /* ]] || die "SPEAKER_UNIT_DIR must be an absolute path"
[[ "$SVC_USER" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "SPEAKER_USER must be a plain user name (got '$SVC_USER')"

if [ "$DRY_RUN" = 1 ]; then
  printf '%sDry run: nothing will be changed. Each line below is an action a real run would take.%s\n' \
    "$BOLD" "$RESET"
elif [ "$(id -u)" != 0 ]; then
  die "please run as root:  sudo $0 ${ORIG_ARGS[*]}   (or add --dry-run to only see what it would do)"
fi

# ------------------------------------------------------------------ uninstall

uninstall() {
  step "Stopping and removing the service"
  local systemd=0
  detect_systemd
  if [ -z "$SYSTEMD_PROBLEM" ]; then
    systemd=1
  elif [ "$DRY_RUN" = 1 ]; then
    systemd=1
    info "(systemd is not running here; on the Pi a real run would do this:)"
  else
    info "$SYSTEMD_PROBLEM: nothing to stop or disable"
  fi
  if [ "$systemd" = 1 ] && [ -e "$UNIT_DIR/$UNIT" ]; then
    systemctl_step disable --now "$UNIT" || systemd=0
  fi
  if [ -e "$UNIT_DIR/$UNIT" ]; then
    run rm -f -- "$UNIT_DIR/$UNIT"
  else
    info "$UNIT_DIR/$UNIT is already gone"
  fi
  if [ -d "$UNIT_DIR/$UNIT.d" ]; then
    info "kept your drop-ins in $UNIT_DIR/$UNIT.d (remove them yourself if you no longer want them)"
  fi
  if [ "$systemd" = 1 ]; then
    systemctl_step daemon-reload || true
    run systemctl reset-failed "$UNIT" || true
  fi

  step "Removing the virtualenv"
  remove_tree "$VENV"
  if [ -d "$PREFIX" ]; then run rmdir --ignore-fail-on-non-empty -- "$PREFIX"; fi

  step "Removing the user '$SVC_USER'"
  if id -u "$SVC_USER" >/dev/null 2>&1; then
    run userdel "$SVC_USER"
  else
    info "no user '$SVC_USER'"
  fi

  if [ "$PURGE" = 1 ]; then
    step "Deleting configuration, secrets and state (--purge)"
    remove_tree "$ETC"
    remove_tree "$STATE"
  else
    step "Kept your data"
    info "$ETC (speaker.yaml, tools, secrets.env) and $STATE (timers, volume) are still there."
    info "Re-installing picks them up again; add --purge to delete them."
  fi
  if [ "$DRY_RUN" = 1 ]; then
    printf '\nThat was a dry run: nothing was changed.\n'
  else
    printf '\n%sThe speaker service is uninstalled.%s\n' "$GREEN" "$RESET"
  fi
}

if [ "$UNINSTALL" = 1 ]; then
  uninstall
  exit 0
fi

# ------------------------------------------------------------------ install / upgrade

SOURCE=$(cd "$SOURCE" 2>/dev/null && pwd) || die_usage "--source: no such directory"
if [ ! -f "$SOURCE/pyproject.toml" ] || [ ! -d "$SOURCE/speaker" ]; then
  die "$SOURCE does not look like a room speaker checkout (no pyproject.toml and speaker/)"
fi
[ -f "$SCRIPT_DIR/speaker.service" ] || die "missing $SCRIPT_DIR/speaker.service"
UNIT_TEMPLATE=$SOURCE/raspberrypi/speaker.service
[ -f "$UNIT_TEMPLATE" ] || UNIT_TEMPLATE=$SCRIPT_DIR/speaker.service

is_raspberry_pi_os() {
  [ -e /etc/rpi-issue ] || grep -qs '^ID=raspbian' /etc/os-release
}

step "Checking this machine"
info "installing from $SOURCE"
if is_raspberry_pi_os; then info "architecture: $ARCH, Raspberry Pi OS"; else info "architecture: $ARCH"; fi
case "$ARCH" in
  aarch64|x86_64) ;;
  armv6l|armv7l)
    warn "32-bit ARM: not tested. The wake word packages may have no 32-bit wheels; the 64-bit"
    warn "Raspberry Pi OS image is the supported target." ;;
  *) warn "architecture $ARCH is not tested" ;;
esac
if command -v "$PYTHON" >/dev/null 2>&1; then
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    die "Python 3.11 or newer is needed ($("$PYTHON" --version 2>&1) found): use Raspberry Pi OS trixie (or bookworm)"
  fi
  info "$("$PYTHON" --version 2>&1)"
elif [ "$DRY_RUN" = 1 ]; then
  info "$PYTHON not found (a real run installs python3-venv first)"
else
  info "$PYTHON not found yet: it comes with the Debian packages below"
fi
detect_systemd
if [ -n "$SYSTEMD_PROBLEM" ] && [ "$DRY_RUN" = 0 ]; then
  warn "$SYSTEMD_PROBLEM: files are installed, but the service cannot be enabled or started"
fi

# --- Debian packages
step "Debian packages"
missing_packages() {
  local p
  for p in "$@"; do
    # shellcheck disable=SC2016  # ${Status} is dpkg-query's field syntax, not a shell variable
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || printf '%s\n' "$p"
  done
}
mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
  info "needed: ${missing[*]}"
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  info "all present: ${APT_PACKAGES[*]}"
fi
info "(for MQTT debugging you may also want: sudo apt-get install mosquitto-clients)"

# --- user
step "System user '$SVC_USER'"
if id -u "$SVC_USER" >/dev/null 2>&1; then
  info "user '$SVC_USER' exists"
  if id -nG "$SVC_USER" | tr ' ' '\n' | grep -qx audio; then
    info "'$SVC_USER' is in the audio group"
  else
    run usermod -a -G audio "$SVC_USER"
  fi
else
  run useradd --system --user-group --groups audio --home-dir "$STATE" --no-create-home \
    --shell /usr/sbin/nologin --comment "room speaker daemon" "$SVC_USER"
fi

# --- virtualenv and the package
step "Python virtualenv in $VENV"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  info "reusing $VENV (upgrading the package in it)"
else
  if [ -e "$VENV" ]; then
    info "$VENV is broken or was made by another Python (an OS upgrade?): recreating it"
    run "$PYTHON" -m venv --clear "$VENV"
  else
    run "$PYTHON" -m venv "$VENV"
  fi
fi

pip_index=()
case "$PIWHEELS" in
  yes|1|true) pip_index=(--extra-index-url https://www.piwheels.org/simple) ;;
  no|0|false) ;;
  auto)
    # piwheels builds wheels for 32-bit Raspberry Pi OS only (it has no aarch64 builds); on 64-bit,
    # PyPI's manylinux aarch64 wheels cover every dependency, and an extra index would only slow pip
    case "$ARCH" in
      armv6l|armv7l) if is_raspberry_pi_os; then pip_index=(--extra-index-url https://www.piwheels.org/simple); fi ;;
    esac ;;
  *) die "SPEAKER_PIWHEELS must be auto, yes or no (got '$PIWHEELS')" ;;
esac
if [ "${#pip_index[@]}" -gt 0 ]; then info "using piwheels.org as an extra package index"; fi

# Build from a copy: pip/setuptools write build/ and *.egg-info into the tree they build, and the
# checkout usually belongs to a normal user, not root.
staging=""
pip_log=""
cleanup() { if [ -n "$staging" ]; then rm -rf -- "$staging"; fi; if [ -n "$pip_log" ]; then rm -f -- "$pip_log"; fi; }
trap cleanup EXIT
if [ "$DRY_RUN" = 1 ]; then
  info "would copy $SOURCE (without .git, .venv, tests, caches) to a temporary directory, and there:"
  pkg_dir=/tmp/speaker-install.XXXXXX
else
  staging=$(mktemp -d /tmp/speaker-install.XXXXXX)
  # (tests/ holds large audio fixtures and is not part of the package)
  tar -C "$SOURCE" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./out \
    --exclude=./tests --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache \
    --exclude=.ruff_cache --exclude=.pytest_cache -cf - . | tar -C "$staging" -xf -
  pkg_dir=$staging
fi
packages_to_install=("$pkg_dir")
if [ "$WITH_DEMO" = 1 ]; then
  # the Realtime emulator is a distribution of its own (room-speaker-emulator): only the demo needs it
  [ -f "$SOURCE/emulator/pyproject.toml" ] || die "--with-demo: $SOURCE has no emulator/ folder (room-speaker-emulator); update the checkout (git pull)"
  info "with the Realtime emulator for \`speaker demo\` (--with-demo)"
  packages_to_install+=("$pkg_dir/emulator")
fi
pip_install=("$VENV/bin/pip" install --disable-pip-version-check --upgrade "${pip_index[@]}" "${packages_to_install[@]}")

# pip's output is shown and kept: a failure installs compilers only when pip really tried to build
# something (no wheel for this machine). A network, proxy or TLS failure would fail the same way again.
COMPILE_MARKERS="Building wheel for |Failed building wheel|Failed to build |Could not build wheels|error: command '[^']*' failed|unable to execute '[^']*'|No such file or directory: '[^']*(gcc|cc|g\+\+)'|fatal error: [^ ]+\.h: No such file"
pip_try() {
  run "${pip_install[@]}" 2>&1 | tee "$pip_log"
}
pip_failed() {  # pip_failed HOW: print pip's last lines and how to retry, then stop
  warn "pip could not install the package$1. Its last lines:"
  grep -v -e '^[[:space:]]*$' -e '^    + ' "$pip_log" | tail -n 6 | sed 's/^/      /' >&2
  warn "a network, proxy (HTTPS_PROXY, then run with sudo -E) or TLS problem (is the clock right?) is the usual cause;"
  die "after fixing it, run this again:  sudo $0 ${ORIG_ARGS[*]}"
}
if [ "$DRY_RUN" = 1 ]; then
  run "${pip_install[@]}"
  info "(if a dependency has no wheel for this machine and must be compiled, a real run installs"
  info " ${BUILD_PACKAGES[*]} and tries once more)"
else
  pip_log=$(mktemp /tmp/speaker-pip.XXXXXX)
  if ! pip_try; then
    if ! grep -Eq "$COMPILE_MARKERS" "$pip_log"; then
      pip_failed " (nothing had to be compiled, so compilers would not help)"
    fi
    mapfile -t missing < <(missing_packages "${BUILD_PACKAGES[@]}")
    [ "${#missing[@]}" -gt 0 ] || pip_failed " (it had to compile something, and ${BUILD_PACKAGES[*]} are already here)"
    warn "pip had to compile a dependency (no wheel for $ARCH): installing ${missing[*]} and trying once more"
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    pip_try || pip_failed " even with ${BUILD_PACKAGES[*]}"
  fi
fi

# --- configuration
step "Configuration in $ETC"
if [ -d "$ETC" ]; then info "$ETC exists"; else run mkdir -p -- "$ETC"; fi
run chown "root:$SVC_USER" "$ETC"
run chmod 0750 "$ETC"
if [ -e "$ETC/speaker.yaml" ]; then
  info "kept $ETC/speaker.yaml (yours to edit; compare with $SOURCE/config/speaker.yaml after upgrades)"
elif [ -f "$SOURCE/config/speaker.yaml" ]; then
  # in the checkout the example points at ../tools/; here the packs sit next to it in tools/
  sed 's|\.\./tools/|tools/|g' "$SOURCE/config/speaker.yaml" | write_file 0640 "root:$SVC_USER" "$ETC/speaker.yaml"
else
  warn "$SOURCE/config/speaker.yaml is missing: write $ETC/speaker.yaml yourself"
fi
shopt -s nullglob
packs=("$SOURCE"/tools/*.yaml "$SOURCE"/tools/*.yml)
shopt -u nullglob
if [ "${#packs[@]}" -gt 0 ]; then
  if [ -d "$ETC/tools" ]; then :; else run mkdir -p -- "$ETC/tools"; fi
  run chown "root:$SVC_USER" "$ETC/tools"
  run chmod 0750 "$ETC/tools"
  for pack in "${packs[@]}"; do
    copy_if_absent "$pack" "$ETC/tools/$(basename "$pack")" 0640 "root:$SVC_USER"
  done
fi
created_secrets=0
if [ -e "$ETC/secrets.env" ]; then
  info "kept $ETC/secrets.env"
else
  created_secrets=1
  write_file 0600 root:root "$ETC/secrets.env" <<'EOF'
# Secrets for the speaker service. Only root can read this file (mode 0600); systemd reads it before
# starting the daemon and hands the values over as environment variables. In speaker.yaml, refer to
# them as {env: NAME}, never paste a secret into the YAML.
#
# Your OpenAI API key (https://platform.openai.com/api-keys):
OPENAI_API_KEY=
#
# If your MQTT broker needs a password (speaker.yaml: mqtt.password: {env: MQTT_PASSWORD}):
#MQTT_PASSWORD=
#
# A Home Assistant long-lived access token for its MCP server (mcp.bridged[].token: {env: HA_TOKEN}):
#HA_TOKEN=
EOF
fi
if [ -d "$STATE" ]; then info "$STATE exists"; else run mkdir -p -- "$STATE"; fi
run chown "$SVC_USER:$SVC_USER" "$STATE"
run chmod 0750 "$STATE"

# --- systemd unit
step "systemd unit $UNIT_DIR/$UNIT"
rendered=$(sed -e "s|/opt/speaker|$PREFIX|g" -e "s|/etc/speaker|$ETC|g" \
               -e "s|^User=speaker$|User=$SVC_USER|" -e "s|^Group=speaker$|Group=$SVC_USER|" \
               "$UNIT_TEMPLATE")
unit_changed=1
if [ -f "$UNIT_DIR/$UNIT" ] && [ "$(cat "$UNIT_DIR/$UNIT")" = "$rendered" ]; then
  unit_changed=0
  info "unchanged"
else
  if [ -d "$UNIT_DIR" ]; then :; else run mkdir -p -- "$UNIT_DIR"; fi
  printf '%s\n' "$rendered" | write_file 0644 root:root "$UNIT_DIR/$UNIT"
fi

started=0
start_failed=0
if [ -n "$SYSTEMD_PROBLEM" ] && [ "$DRY_RUN" = 1 ]; then
  info "(systemd is not running here; on the Pi a real run would do this:)"
elif [ -n "$SYSTEMD_PROBLEM" ]; then
  info "not enabled, not started: no systemd to talk to (see the end)"
fi
if [ -z "$SYSTEMD_PROBLEM" ] || [ "$DRY_RUN" = 1 ]; then
  if { [ "$unit_changed" = 0 ] || systemctl_step daemon-reload; } && systemctl_step enable "$UNIT"; then
    if [ "$NO_START" = 1 ]; then
      info "not starting it (--no-start)"
    elif [ "$created_secrets" = 1 ]; then
      info "not starting it yet: $ETC/secrets.env was just created and has no API key in it"
    else
      # restart: starts it if stopped, loads the new version if running; reset-failed first so a
      # service that gave up after too many crashes is allowed to start again
      run systemctl reset-failed "$UNIT" || true
      if run systemctl restart "$UNIT"; then
        started=1
      else
        start_failed=1
        warn "the service did not start: see  journalctl -u speaker -n 50"
      fi
    fi
  fi
fi

# --- check
step "Checking the configuration (speaker check)"
check_cmd=("$VENV/bin/speaker" --config "$ETC/speaker.yaml" check)
check_ok=0
if [ "$DRY_RUN" = 1 ]; then
  run runuser -u "$SVC_USER" -- "${check_cmd[@]}"
  info "(as the service would: user '$SVC_USER', with the variables from $ETC/secrets.env)"
elif [ ! -f "$ETC/speaker.yaml" ]; then
  warn "skipped: there is no $ETC/speaker.yaml yet"
else
  # the same view of the world as the service: its user, its secrets (parsed, never echoed)
  if (
    set +u
    while IFS= read -r line || [ -n "$line" ]; do
      [[ "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
      name=${BASH_REMATCH[1]}
      value=${BASH_REMATCH[2]}
      if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
      export "$name=$value"
    done <"$ETC/secrets.env"
    cd "$STATE"
    run timeout 120 runuser -u "$SVC_USER" -- "${check_cmd[@]}"
  ); then
    check_ok=1
  fi
fi

# --- what next
step "Done"
if [ "$DRY_RUN" = 1 ]; then
  info "That was a dry run: nothing was changed."
  exit 0
fi
if [ "$check_ok" = 1 ] && [ "$started" = 1 ]; then
  printf '%s    The speaker is running. Say the wake word!%s\n' "$GREEN" "$RESET"
  cat <<EOF
    logs:      journalctl -u speaker -f
    settings:  $ETC/speaker.yaml, secrets in $ETC/secrets.env; after a change: sudo systemctl restart speaker
EOF
  exit 0
fi
if [ -n "$SYSTEMD_PROBLEM" ]; then
  # say what was not done, and how to finish once systemd is there
  warn "Not done: $SYSTEMD_PROBLEM, so the service was installed as $UNIT_DIR/$UNIT but NOT enabled"
  warn "(it will not start at boot) and NOT started. On a machine booted with systemd, finish with:"
  warn "    sudo systemctl daemon-reload && sudo systemctl enable --now speaker"
  warn "or run the daemon by hand here, as its user with its secrets:"
  warn "    sudo sh -c 'set -a; . $ETC/secrets.env; exec runuser -u $SVC_USER -- $VENV/bin/speaker --config $ETC/speaker.yaml run'"
  start_cmd="sudo systemctl enable --now speaker   (once systemd runs)"
else
  start_cmd="sudo systemctl restart speaker"
fi
if [ "$check_ok" = 1 ] && [ -z "$SYSTEMD_PROBLEM" ] && [ "$start_failed" = 0 ]; then
  info "The configuration checks out. Start the service with:  $start_cmd"
elif [ "$check_ok" = 1 ]; then
  info "The configuration checks out."
else
  info "Something is still missing (see 'speaker check' above). Usually:"
fi
cat <<EOF
    - the API key:        sudo nano $ETC/secrets.env        (OPENAI_API_KEY=sk-...)
    - microphone/speaker: sudo -u $SVC_USER $VENV/bin/speaker devices
                          then audio.input.device / audio.output.device in $ETC/speaker.yaml
    - MQTT broker, room:  mqtt.host and mqtt.site_id in $ETC/speaker.yaml
    then:                 $start_cmd
    logs:                 journalctl -u speaker -f
    check as the service would (its user, its secrets):
      sudo systemd-run --quiet --pipe --wait -p User=$SVC_USER -p SupplementaryGroups=audio \\
        -p EnvironmentFile=$ETC/secrets.env ${check_cmd[*]}
    more help:            raspberrypi/README.md
EOF
