#!/usr/bin/env bash
# Build the Docker images drydock's Docker backend runs SageMaker jobs in, without any
# registry (no Docker Hub, no ECR): a Debian base made with debootstrap, then two
# images built FROM it that install their Python packages from PyPI.
#
#   drydock/base:bookworm    debootstrap --variant=minbase + python3, pip, venv
#   sagemaker-scikit-learn   683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3
#                            alias drydock/sklearn:latest    (images/sklearn.Dockerfile)
#   sagemaker-xgboost        683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
#                            alias drydock/xgboost:latest    (images/xgboost.Dockerfile, images/serve.py)
#
# The ECR tags are exactly what the SageMaker SDK v2 computes for us-east-1 with
# instance_type="local"; when a tag exists locally the SDK neither logs in nor pulls.
# The list is mirrored in scripts/docker/images.py (REQUIRED_IMAGES): keep them in step.
#
# Idempotent: an image that exists is skipped unless --rebuild, or unless its recipe
# (Dockerfile, serve.py) changed since it was built (label org.drydock.recipe), or the
# base image is not the one it was built on (label org.drydock.base). Runs
# scripts/docker/setup-engine.sh first (--no-setup to skip it). Needs root (debootstrap).
#
# Usage: scripts/docker/build-images.sh [--rebuild] [--no-setup] [base|sklearn|xgboost ...]
#
# Environment:
#   DRYDOCK_DEBIAN_MIRROR   mirror for debootstrap (default: debootstrap's own default)
#   DRYDOCK_CA_BUNDLE       CA bundle copied into the images (default /etc/ssl/certs/ca-certificates.crt)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGES_DIR="$HERE/images"
CA_BUNDLE="${DRYDOCK_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

BASE=drydock/base:bookworm
SKLEARN_URI=683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3
SKLEARN_ALIAS=drydock/sklearn:latest
XGBOOST_URI=683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
XGBOOST_ALIAS=drydock/xgboost:latest

# The 28.x CLI has no buildx plugin here: use the classic builder explicitly.
export DOCKER_BUILDKIT=0

REBUILD=0
SETUP=1
WANT=()
for arg in "$@"; do
    case "$arg" in
        --rebuild) REBUILD=1 ;;
        --no-setup) SETUP=0 ;;
        base|sklearn|xgboost) WANT+=("$arg") ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-images.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done
((${#WANT[@]})) || WANT=(base sklearn xgboost)
wanted() { local w; for w in "${WANT[@]}"; do [[ "$w" == "$1" ]] && return 0; done; return 1; }

say() { printf '[build-images] %s\n' "$*"; }
die() { printf '[build-images] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

T_ALL=$(now)
SUMMARY=()

if ((SETUP)); then
    bash "$HERE/setup-engine.sh"
fi
docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/docker/setup-engine.sh"
[[ -r "$CA_BUNDLE" ]] || die "CA bundle $CA_BUNDLE not readable (set DRYDOCK_CA_BUNDLE)"

image_exists() { [[ -n "$(docker images -q "$1" 2>/dev/null)" ]]; }
image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
image_size_mb() { docker image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f", $1/1000/1000}'; }

# recipe hash: the files that define an image (its Dockerfile and what it COPYs).
recipe_hash() { cat "$@" | sha256sum | cut -c1-16; }

record() {  # name, uri, seconds, action
    local size; size=$(image_size_mb "$2")
    SUMMARY+=("$(printf '%-8s %-9s %7s s %6s MB  %s' "$1" "$4" "$3" "$size" "$2")")
}

# ---- base: debootstrap + docker import ----------------------------------------
ROOTFS=""
remove_rootfs() {
    [[ -n "$ROOTFS" && -d "$ROOTFS" ]] || return 0
    # debootstrap mounts proc/sys inside the target; a failed run can leave them mounted.
    local m
    for m in $(awk -v r="$ROOTFS/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    if mountpoint -q "$ROOTFS"; then umount -l "$ROOTFS"; fi
    rm -rf --one-file-system "$ROOTFS"
    ROOTFS=""
}
build_base() {
    if image_exists "$BASE" && ((REBUILD == 0)); then
        say "base: $BASE exists, skipped (--rebuild to redo)"
        record base "$BASE" 0.0 skipped
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap missing; run scripts/docker/setup-engine.sh"
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
    local t0 t1 rootfs log
    t0=$(now)
    rootfs=$(mktemp -d /var/tmp/drydock-rootfs.XXXXXX)
    log=/tmp/drydock-debootstrap.log
    ROOTFS="$rootfs"
    trap remove_rootfs EXIT
    # A tmpfs: on this disk, dpkg's fsyncs and removing the ~11,000 files of a rootfs
    # cost about 25 s each (rm -rf alone: 26 s wall, 0.5 s CPU). Disk if mount is refused.
    local where="tmpfs"
    mount -t tmpfs -o size=2g,mode=0755 drydock-rootfs "$rootfs" 2>/dev/null || where="disk"
    say "base: debootstrap bookworm into $rootfs ($where; log: $log) ..."
    # No mirror argument: debootstrap's default, unless DRYDOCK_DEBIAN_MIRROR is set.
    if ! debootstrap --variant=minbase --include=python3,python3-pip,python3-venv \
            bookworm "$rootfs" ${DRYDOCK_DEBIAN_MIRROR:+"$DRYDOCK_DEBIAN_MIRROR"} >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "debootstrap failed (full log: $log)"
    fi
    say "base: debootstrap done in $(since "$t0") s"
    # Trim what an image does not need; the container runtime supplies these files.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
           "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.cache
    rm -f "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf
    t1=$(now)
    tar -C "$rootfs" --numeric-owner -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL org.drydock.image=base' \
        --change 'CMD ["/bin/bash"]' \
        - "$BASE" >/dev/null
    say "base: docker import done in $(since "$t1") s"
    t1=$(now)
    remove_rootfs
    trap - EXIT
    say "base: rootfs removed in $(since "$t1") s"
    t1=$(now)
    say "base: $(docker run --rm "$BASE" python3 -c 'import sys; print("python", sys.version.split()[0])') runs ($(since "$t1") s)"
    record base "$BASE" "$(since "$t0")" built
}

# ---- images built FROM the base -------------------------------------------------
# build_from name uri alias dockerfile [extra context files...]
build_from() {
    local name=$1 uri=$2 alias=$3 dockerfile=$4
    shift 4
    local files=("$IMAGES_DIR/$dockerfile")
    local f
    for f in "$@"; do files+=("$IMAGES_DIR/$f"); done
    local recipe; recipe=$(recipe_hash "${files[@]}")

    image_exists "$BASE" || die "$name: base image $BASE missing; run: scripts/docker/build-images.sh base"
    local base_id; base_id=$(docker image inspect --format '{{.Id}}' "$BASE")

    local why=""
    if ((REBUILD)); then why="--rebuild"
    elif ! image_exists "$uri"; then why="missing"
    elif [[ "$(image_label "$uri" org.drydock.recipe)" != "$recipe" ]]; then why="recipe changed"
    elif [[ "$(image_label "$uri" org.drydock.base)" != "$base_id" ]]; then why="base image changed"
    fi
    if [[ -z "$why" ]]; then
        say "$name: $uri exists (recipe $recipe), skipped"
        docker tag "$uri" "$alias"
        record "$name" "$uri" 0.0 skipped
        return
    fi

    local t0 ctx log
    t0=$(now)
    ctx=$(mktemp -d /tmp/drydock-ctx.XXXXXX)
    log=/tmp/drydock-build-$name.log
    cp "${files[@]}" "$ctx/"
    mv "$ctx/$dockerfile" "$ctx/Dockerfile"
    cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
    local nocache=()
    ((REBUILD)) && nocache=(--no-cache)
    say "$name: building $uri ($why; log: $log) ..."
    # --network host + the host CA bundle: the only way pip in a container reaches PyPI here.
    # --force-rm: a failed classic build would otherwise leave its intermediate container.
    if ! docker build --network host --rm --force-rm "${nocache[@]}" \
            --label "org.drydock.image=$name" --label "org.drydock.recipe=$recipe" \
            --label "org.drydock.base=$base_id" \
            -t "$uri" -t "$alias" "$ctx" >"$log" 2>&1; then
        rm -rf "$ctx"
        tail -n 30 "$log" >&2
        die "$name: docker build failed (full log: $log)"
    fi
    rm -rf "$ctx"
    grep -E '^(sklearn|xgboost) ' "$log" | sed "s/^/[build-images] $name: /" || true
    say "$name: built in $(since "$t0") s"
    record "$name" "$uri" "$(since "$t0")" built
}

wanted base && build_base
wanted sklearn && build_from sklearn "$SKLEARN_URI" "$SKLEARN_ALIAS" sklearn.Dockerfile
wanted xgboost && build_from xgboost "$XGBOOST_URI" "$XGBOOST_ALIAS" xgboost.Dockerfile serve.py

# Drop the untagged leftovers of our own earlier builds (never other images). Deleting
# layers is slow on this disk (91 s for the 1.8 GB a --rebuild superseded), so it runs
# in the background, detached; its output goes to /tmp/drydock-prune.log.
if [[ -n "$(docker images -q --filter dangling=true --filter label=org.drydock.image)" ]]; then
    setsid sh -c 'docker image prune -f --filter label=org.drydock.image' \
        >/tmp/drydock-prune.log 2>&1 </dev/null &
    say "removing superseded drydock images in the background (log: /tmp/drydock-prune.log)"
fi

say "summary (sizes as docker reports them; layers of the base are shared):"
for line in "${SUMMARY[@]}"; do say "  $line"; done
say "all done in $(since "$T_ALL") s"
