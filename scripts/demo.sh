#!/bin/sh
# demo.sh: berth with a sample app, on this machine, until Ctrl-C.
#
# Starts a registry on loopback and pushes two versions of a small web app
# (hello v1 and hello v2: busybox httpd), makes a git repository whose tags v1
# and v2 pin them, starts berthd (which starts berth-router), deploys tag v1 as
# container `web` and prints where to look. Ctrl-C (or SIGTERM) deletes the
# container, so that its enclaves go, then stops berthd, the router and the
# registry, by PID. Run it again as often as you like.
#
# Usage: scripts/demo.sh [BUILD_DIR]      (default: build, from `make build`)
# Environment (defaults for `make demo`):
#   DEMO_DIR       state of the demo (registry, repository, berthd): ./state/demo
#   DEMO_LISTEN    berthd's API and dashboard: 127.0.0.1:7070
#   DEMO_ROUTER    the router, where the app answers: 127.0.0.1:8080
#   DEMO_REGISTRY  the registry: 127.0.0.1:5000, or a free port if that is taken
#   DEMO_PORTS=free  every port above a free one (tests)
#   DEMO_SUBNET    the enclaves' network: 10.89.250.0/24
#   DEMO_BRIDGE    its bridge: berth-demo0
#   DEMO_LOG_LEVEL berthd's log level: info (log in DEMO_DIR/berthd/berthd.log)
set -eu

ENV_NAME=demo
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || {
	echo "demo: no build dir ${1:-build} (run make build)" >&2
	exit 2
}
# shellcheck source=scripts/demo-env.sh
. "$(dirname "$0")/demo-env.sh"

mkdir -p "${DEMO_DIR:=$ENV_ROOT/state/demo}"
ENV_BUILD=$BUILD
ENV_DIR=$(cd "$DEMO_DIR" && pwd)
ENV_LISTEN=${DEMO_LISTEN:-127.0.0.1:7070}
ENV_ROUTER=${DEMO_ROUTER:-127.0.0.1:8080}
ENV_REGISTRY=${DEMO_REGISTRY:-127.0.0.1:5000}
if [ "${DEMO_PORTS:-}" = free ]; then
	ENV_LISTEN=127.0.0.1:$(env_free_port)
	ENV_ROUTER=127.0.0.1:$(env_free_port)
	ENV_REGISTRY=
elif [ -z "${DEMO_REGISTRY:-}" ] && env_port_busy "$ENV_REGISTRY"; then
	ENV_REGISTRY=
fi
ENV_SUBNET=${DEMO_SUBNET:-10.89.250.0/24}
ENV_BRIDGE=${DEMO_BRIDGE:-berth-demo0}
ENV_LOG_LEVEL=${DEMO_LOG_LEVEL:-info}
ENV_MIN_HEALTHY=2s

[ "$(id -u)" = 0 ] || env_die "berthd makes network namespaces and runs runc: run as root"

# shellcheck disable=SC2317 # called by the trap
on_signal() {
	trap '' INT TERM
	echo
	echo "demo: stopping: deleting web (its enclaves go), then berthd, the router, the registry..."
	env_stop
	echo "demo: stopped; nothing of it runs any more"
	trap - EXIT
	exit 0
}
trap 'env_stop' EXIT
trap on_signal INT TERM

env_check
echo "demo: starting the registry..."
env_registry_start
echo "demo: building hello v1 and v2 and pushing them to $ENV_REGISTRY..."
env_images
env_repo
echo "demo: starting berthd (log: $ENV_DIR/berthd/berthd.log)..."
env_berthd_start

# A container web left by an earlier run that did not end cleanly goes first.
if env_api GET /containers/web >/dev/null 2>&1; then
	echo "demo: deleting the container web of an earlier run..."
	env_api DELETE /containers/web >/dev/null
	i=0
	while env_api GET /containers/web >/dev/null 2>&1 && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
fi

echo "demo: deploying tag v1 of $ENV_REPO as container web..."
env_api POST /containers "{\"name\":\"web\",\"repo\":$(env_json "$ENV_REPO"),\"tag\":\"v1\"}" \
	>/dev/null || env_die "POST /containers failed"
env_wait_status web running 60 || env_die "web did not start (see $ENV_STATE/berthd.log)"

APP=http://web.default.containers.localhost:${ENV_ROUTER##*:}/
TOKEN_FILE=$ENV_STATE/admin-token
URL_VAR=
[ "$ENV_LISTEN" = 127.0.0.1:7070 ] || URL_VAR="BERTH_URL=http://$ENV_LISTEN "
cat <<EOF

berth is running.

  dashboard    http://$ENV_LISTEN/
  admin token  $ENV_TOKEN
               (also in $TOKEN_FILE)
  the app      $APP
               curl $APP

Update web to v2 (blue-green: v1 serves until v2 is healthy), from the CLI:

  ${URL_VAR}BERTH_TOKEN=\$(cat $TOKEN_FILE) \\
    $BUILD/berth container update web --tag v2

or with curl:

  curl -H "Authorization: Bearer \$(cat $TOKEN_FILE)" -H 'Content-Type: application/json' \\
    -d '{"kind":"tag","tag":"v2"}' http://$ENV_LISTEN/api/v1/containers/web/updates

Ctrl-C stops everything.
EOF

# Until a signal, or berthd's end.
wait "$ENV_BERTHD_PID" || true
echo "demo: berthd exited; see $ENV_STATE/berthd.log" >&2
exit 1
