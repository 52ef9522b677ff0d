#!/bin/sh
# Development image only (docker/Dockerfile, target dev). Installed as switchboard-<service>
# ahead of the real console script on PATH: runs the service and restarts it when `skaffold
# dev` syncs a changed Python file into /src. With arguments (`switchboard-persistence
# migrate`) it runs the command once.
set -eu
name="switchboard-${SWITCHBOARD_SERVICE:?}"
real="/app/.venv/bin/$name"
[ "$#" -eq 0 ] || exec "$real" "$@"

stamp=/tmp/dev-reload.stamp
child=0
trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" || true; exit 0' TERM INT
while :; do
    touch "$stamp"
    "$real" &
    child=$!
    while kill -0 "$child" 2>/dev/null; do
        if [ -n "$(find /src/libs /src/services -name '*.py' -newer "$stamp" -print | head -n 1)" ]; then
            echo "dev-reload: sources changed, restarting $name" >&2
            kill -TERM "$child"
            wait "$child" || true
            continue 2
        fi
        sleep 1
    done
    # The service exited by itself: let Kubernetes see it.
    status=0
    wait "$child" || status=$?
    exit "$status"
done
