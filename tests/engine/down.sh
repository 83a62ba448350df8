#!/usr/bin/env bash
# Stop the podman service started by up.sh (by its PID file); storage and the base image stay.
set -euo pipefail
ENGINE_DIR="${PESTO_ENGINE_DIR:-$HOME/.cache/pesto-engine}"
PIDFILE="$ENGINE_DIR/podman.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    echo "[engine] stopped podman service (pid $(cat "$PIDFILE"))" >&2
fi
rm -f "$PIDFILE" "$ENGINE_DIR/podman.sock"
