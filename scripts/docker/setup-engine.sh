#!/usr/bin/env bash
# Install (if missing) and start (if not answering) a local Docker engine for drydock's
# Docker backend. Idempotent: safe to run on every CI start and on a machine that is
# already set up; a daemon that already answers is reused as it is.
#
# Needs root (apt-get, dockerd). No systemd is assumed: dockerd is started in the
# background and logs to $DRYDOCK_DOCKERD_LOG (default /tmp/drydock-dockerd.log).
#
# Client / engine versions: these machines ship a Docker *client* 28.x at
# /usr/local/bin/docker (API 1.50) that comes first on PATH; the engine comes from
# Debian's docker.io 20.10 (API 1.41; it also installs its own 20.10 client at
# /usr/bin/docker). The 28.x client negotiates the API version down to the engine's
# ("API version: 1.41 (downgraded from 1.50)" in `docker version`), so nothing needs
# to be set for the CLI, and docker-compose 1.29 (docker-py) negotiates too. We do NOT
# pin DOCKER_API_VERSION by default, because a pinned value breaks the day the engine
# is newer. Only if the CLI refuses the engine ("client version ... is too new") does
# this script pin DOCKER_API_VERSION to the engine's own API version for its own
# checks, and it prints the `export` line to use in the caller's shell.
#
# The CLI 28.x has no buildx plugin here, so `docker build` uses the classic builder
# (scripts/docker/build-images.sh sets DOCKER_BUILDKIT=0 to say so explicitly).
#
# Environment:
#   DRYDOCK_DOCKERD_TIMEOUT   seconds to wait for a new daemon to answer (default 60)
#   DRYDOCK_DOCKERD_LOG       dockerd's log file (default /tmp/drydock-dockerd.log)
#   DRYDOCK_SKIP_APT=1        never run apt-get (fail if something is missing)
set -euo pipefail

TIMEOUT="${DRYDOCK_DOCKERD_TIMEOUT:-60}"
LOG="${DRYDOCK_DOCKERD_LOG:-/tmp/drydock-dockerd.log}"
SOCK=/var/run/docker.sock
PACKAGES=(docker.io containerd runc debootstrap docker-compose)

say() { printf '[setup-engine] %s\n' "$*"; }
die() { printf '[setup-engine] ERROR: %s\n' "$*" >&2; exit 1; }

t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# 1. Debian packages -----------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    [[ "${DRYDOCK_SKIP_APT:-0}" == 1 ]] && die "missing packages: ${missing[*]} (and DRYDOCK_SKIP_APT=1)"
    [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]}; run as root to install them"
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # No recommends: they pull needrestart, apparmor, git ... which the engine does not need.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "installed in $(elapsed) s"
else
    say "packages present: ${PACKAGES[*]}"
fi

command -v docker >/dev/null || die "no docker client on PATH"
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
command -v docker-compose >/dev/null || die "docker-compose not found after installing it"

# 2. The daemon --------------------------------------------------------------
engine_answers() { docker info >/dev/null 2>&1; }

check_api() {
    # If the CLI refuses the engine's API version, pin DOCKER_API_VERSION to the engine's.
    local out
    if out=$(docker version --format '{{.Server.APIVersion}}' 2>&1); then
        return 0
    fi
    if grep -qi 'too new' <<<"$out"; then
        local api
        api=$(grep -oE 'Maximum supported API version is [0-9.]+' <<<"$out" | awk '{print $NF}')
        [[ -n "$api" ]] || die "docker client/engine API mismatch: $out"
        export DOCKER_API_VERSION="$api"
        say "client newer than engine: pinned DOCKER_API_VERSION=$api"
        say "  run: export DOCKER_API_VERSION=$api"
        docker version >/dev/null 2>&1 || die "docker still fails with DOCKER_API_VERSION=$api"
    else
        die "docker version failed: $out"
    fi
}

if engine_answers; then
    say "reusing the running Docker engine"
else
    # A stale pid file from a daemon that died keeps a new one from starting.
    if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    if pgrep -x dockerd >/dev/null; then
        say "a dockerd process exists but does not answer yet; waiting for it"
    else
        [[ $(id -u) -eq 0 ]] || die "no Docker engine answers and starting dockerd needs root"
        say "starting dockerd (log: $LOG)"
        # setsid: the daemon outlives this script and the caller's process group.
        setsid dockerd --host "unix://$SOCK" --data-root /var/lib/docker >"$LOG" 2>&1 </dev/null &
    fi
    waited=0
    until engine_answers; do
        if ((waited >= TIMEOUT * 2)); then
            tail -n 20 "$LOG" >&2 2>/dev/null || true
            die "Docker engine did not answer on $SOCK within ${TIMEOUT}s (see $LOG above; raise DRYDOCK_DOCKERD_TIMEOUT if the machine is slow)"
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    say "dockerd answers after $(awk -v w="$waited" 'BEGIN{printf "%.1f", w/2}') s"
fi

check_api
say "$(docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}} (API {{.Server.APIVersion}})')"
say "$(docker info --format 'storage {{.Driver}}, cgroup v{{.CgroupVersion}}, {{.Images}} images')"
say "$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
say "ready in $(elapsed) s"
