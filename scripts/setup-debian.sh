#!/usr/bin/env bash
# Debian packages the tests use: chromium (the UI test, headless), tmux (the breakpoint test drives a real
# terminal) and graphviz (`dot` renders `drydock graph` SVG/PNG). Idempotent: installs only what is missing,
# and does nothing when every tool is there. Needs root (or sudo) only when something must be installed.
set -euo pipefail

declare -A TOOLS=([chromium]=chromium [tmux]=tmux [dot]=graphviz)
missing=()
for tool in "${!TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${TOOLS[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-debian: missing ${missing[*]} and no apt-get here; install them by hand (tests that need them skip)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup-debian: missing ${missing[*]}; run as root to install them (tests that need them skip)" >&2
        exit 0
    fi
fi
echo "setup-debian: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
