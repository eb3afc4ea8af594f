#!/usr/bin/env bash
# Builds the two images of a qless-router cluster without any registry:
#   qless-router:dev  the router: a static qless-router binary, FROM scratch
#   qless-redis:dev   a shard: the system's redis-server (installed by
#                     scripts/ensure-redis.sh when missing), its libraries and
#                     the dynamic loader, FROM scratch
# The build contexts are assembled in deploy/.build/ (git-ignored), with
# qless.lua, the script the router image serves.
# Environment: ROUTER_IMAGE, REDIS_IMAGE (image names), GO.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUTER_IMAGE=${ROUTER_IMAGE:-qless-router:dev}
REDIS_IMAGE=${REDIS_IMAGE:-qless-redis:dev}
GO=${GO:-go}
OUT=deploy/.build

./scripts/ensure-redis.sh
rm -rf "$OUT"
mkdir -p "$OUT/router" "$OUT/redis/rootfs"

# Router: a static binary is all a scratch image needs.
CGO_ENABLED=0 "$GO" build -trimpath -o "$OUT/router/qless-router" ./cmd/qless-router
cp deploy/router/Dockerfile "$OUT/router/Dockerfile"
# The qless script this router serves, for clients built from another tree
# (the chaos suite loads exactly this text, so that its EVALSHA matches).
"$OUT/router/qless-router" script >"$OUT/qless.lua"

# Shard: copy a dynamically linked program with every library ldd lists and
# the loader, each at the path the loader will look for it.
ROOT="$OUT/redis/rootfs"
copy_program() { # copy_program SOURCE DEST-IN-IMAGE
  install -D -m 0755 "$(readlink -f "$1")" "$ROOT$2"
  ldd "$1" | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}' | while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$ROOT$lib"
  done
}
# redis-server is a symlink to redis-check-rdb on Debian and picks its mode
# from argv[0]: the copy must be named redis-server.
copy_program "$(command -v redis-server)" /usr/bin/redis-server
copy_program "$(command -v redis-cli)" /usr/bin/redis-cli
install -D -m 0644 deploy/redis/redis.conf "$ROOT/etc/redis/redis.conf"
cp deploy/redis/Dockerfile "$OUT/redis/Dockerfile"

# The classic builder: it does not pull FROM scratch, and needs no BuildKit.
export DOCKER_BUILDKIT=0
build() { # build IMAGE CONTEXT: quiet (the classic builder warns that it is deprecated) unless it fails
  if ! docker build -q -t "$1" "$2" >"$OUT/build.log" 2>&1; then
    cat "$OUT/build.log" >&2
    exit 1
  fi
}
build "$ROUTER_IMAGE" "$OUT/router"
build "$REDIS_IMAGE" "$OUT/redis"
echo "built $ROUTER_IMAGE and $REDIS_IMAGE"
