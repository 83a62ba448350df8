#!/usr/bin/env bash
# Bring up a real container engine for the tests: Podman's Docker-compatible API on a unix socket.
#
# Idempotent: installs podman/runc/mmdebstrap only when missing, writes the engine's config under
# PESTO_ENGINE_DIR (default ~/.cache/pesto-engine, kept between runs and clones), starts
# `podman system service` once (PID file), and bootstraps the base image localhost/pybase:bookworm
# from Debian packages (no image registry is reachable; the rootfs tar is cached).
# Prints the DOCKER_HOST to use on its last line.
set -euo pipefail

ENGINE_DIR="${PESTO_ENGINE_DIR:-$HOME/.cache/pesto-engine}"
BASE_IMAGE="${PESTO_BASE_IMAGE:-localhost/pybase:bookworm}"
SOCK="$ENGINE_DIR/podman.sock"
PIDFILE="$ENGINE_DIR/podman.pid"
mkdir -p "$ENGINE_DIR"

log() { echo "[engine] $*" >&2; }

install_packages() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (apt-get)"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >"$ENGINE_DIR/apt.log" 2>&1 || { tail -n 30 "$ENGINE_DIR/apt.log" >&2; exit 1; }
    fi
}

write_config() {
    # crun fails on cgroup v1 hybrid hosts, and the default nofile limit cannot be raised here.
    cat >"$ENGINE_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    cat >"$ENGINE_DIR/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$ENGINE_DIR/run"
graphroot = "$ENGINE_DIR/root"
CONF
}

export CONTAINERS_CONF="$ENGINE_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$ENGINE_DIR/storage.conf"

answers() { curl -sf --max-time 5 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

start_service() {
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && answers; then
        log "podman service already running (pid $(cat "$PIDFILE"))"
        return
    fi
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
        && [ "$(cat /proc/"$(cat "$PIDFILE")"/comm 2>/dev/null)" = podman ]; then
        kill "$(cat "$PIDFILE")"  # our service, but not answering: restart it
    fi
    rm -f "$SOCK"
    log "starting podman system service on $SOCK"
    nohup podman system service --time=0 "unix://$SOCK" >"$ENGINE_DIR/service.log" 2>&1 &
    echo $! >"$PIDFILE"
    local deadline=$((SECONDS + 30))
    until answers; do
        if ((SECONDS > deadline)); then
            log "podman service did not answer within 30 s; see $ENGINE_DIR/service.log"
            tail -n 20 "$ENGINE_DIR/service.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

bootstrap_base() {
    if podman image exists "$BASE_IMAGE"; then
        log "base image $BASE_IMAGE present"
        return
    fi
    local tar="$ENGINE_DIR/base-bookworm.tar"
    if [ ! -s "$tar" ]; then
        log "bootstrapping Debian bookworm rootfs with mmdebstrap (~20 s)"
        mmdebstrap --quiet --format=tar --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$tar.part" >&2
        mv "$tar.part" "$tar"
    fi
    log "importing $tar as $BASE_IMAGE"
    podman import --quiet --change 'CMD ["python3"]' "$tar" "$BASE_IMAGE" >&2
}

install_packages
write_config
start_service
bootstrap_base
echo "unix://$SOCK"
