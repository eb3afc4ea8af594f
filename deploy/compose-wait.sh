#!/usr/bin/env bash
# Waits (at most WAIT_SECONDS, default 60) until the compose cluster serves:
# router 1 answers PING on its RESP port and its /api/cluster lists 3 routers.
set -euo pipefail
RESP_PORT=${RESP_PORT:-6380}
HTTP_PORT=${HTTP_PORT:-8080}
WANT=${WANT_ROUTERS:-3}
deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
routers=0
while ((SECONDS < deadline)); do
  if [ "$(redis-cli -h 127.0.0.1 -p "$RESP_PORT" PING 2>/dev/null)" = "PONG" ]; then
    routers=$(curl -fsS "http://127.0.0.1:$HTTP_PORT/api/cluster" 2>/dev/null |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("routers") or []))' 2>/dev/null || echo 0)
    if [ "$routers" -ge "$WANT" ]; then
      echo "cluster up: $routers routers; RESP 127.0.0.1:6380-6382, dashboards http://127.0.0.1:8080/-8082/"
      exit 0
    fi
  fi
  sleep 1
done
echo "cluster not ready after ${WAIT_SECONDS:-60}s (routers seen: $routers); docker-compose -f deploy/docker-compose.yml -p qless-router logs" >&2
exit 1
