# demo-env.sh: a whole berth on this machine, for scripts/demo.sh and
# bench/lifecycle.sh (sourced by both; POSIX sh). A registry on loopback holding
# the hello images, a git repository whose tags v1 and v2 pin them, berthd with
# its router, and env_stop, which takes all of it down again by PID.
#
# The sourcing script sets, before calling env_* (absolute paths):
#   ENV_BUILD      build dir holding berthd, berth-router, berth
#   ENV_DIR        where the registry's storage, the repository and berthd's state
#                  go: ENV_DIR/registry, ENV_DIR/repo, ENV_DIR/berthd
#   ENV_LISTEN     berthd's API and dashboard, ADDR:PORT
#   ENV_ROUTER     the router's listener, ADDR:PORT
#   ENV_REGISTRY   the registry's ADDR:PORT; empty: a free loopback port
#   ENV_SUBNET, ENV_BRIDGE, ENV_LOG_LEVEL   berthd's --subnet, --bridge, --log-level
#   ENV_MIN_HEALTHY  deploy.min-healthy-time of the repository's configs
#   ENV_BERTHD_ARGS  more berthd flags, split on spaces (e.g. "--gpus 1")
# and calls env_stop from its EXIT/INT/TERM trap.

ENV_ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENV_PY=/usr/bin/python3
ENV_REG_PID=
ENV_BERTHD_PID=
ENV_TOKEN=
ENV_STOPPED=0

env_log() { printf '%s\n' "$*" >&2; }
env_die() {
	printf '%s: %s\n' "${ENV_NAME:-demo}" "$*" >&2
	exit 1
}

# env_free_port: a loopback port nobody listens on now.
env_free_port() {
	$ENV_PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# env_port_busy ADDR:PORT: true when ADDR:PORT cannot be bound (someone has it).
env_port_busy() {
	! $ENV_PY - "$1" <<'PY' 2>/dev/null
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
PY
}

# env_alive PID NAME: true when PID runs and its command is NAME.
env_alive() {
	[ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# env_running PID: true while our child PID runs (set up or exec'd, not a
# zombie); its command may not be known yet just after the fork.
env_running() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	'' | Z*) return 1 ;;
	esac
}

# env_kill PID NAME: SIGTERM to PID if it is NAME, then waits up to 10 s for it
# to go, then SIGKILL.
env_kill() {
	env_alive "$1" "$2" || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while env_alive "$1" "$2" && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if env_alive "$1" "$2"; then
		env_log "$2 (pid $1) did not stop in 10 s: SIGKILL"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null || true
}

# env_registry_start: docker-registry on ENV_REGISTRY (or a free port, then set
# into ENV_REGISTRY), storage in ENV_DIR/registry. Sets ENV_REG_PID.
env_registry_start() {
	[ -n "$ENV_REGISTRY" ] || ENV_REGISTRY=127.0.0.1:$(env_free_port)
	env_port_busy "$ENV_REGISTRY" && env_die "the registry's port $ENV_REGISTRY is taken"
	mkdir -p "$ENV_DIR/registry"
	cat >"$ENV_DIR/registry/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $ENV_DIR/registry/data
  delete:
    enabled: true
http:
  addr: $ENV_REGISTRY
YML
	# Its own session: a Ctrl-C at the terminal reaches the script, which
	# stops everything in order.
	setsid docker-registry serve "$ENV_DIR/registry/config.yml" \
		>"$ENV_DIR/registry/registry.log" 2>&1 </dev/null &
	ENV_REG_PID=$!
	i=0
	until curl -sf --noproxy '*' "http://$ENV_REGISTRY/v2/" >/dev/null 2>&1; do
		env_running "$ENV_REG_PID" ||
			env_die "docker-registry exited: $(tail -5 "$ENV_DIR/registry/registry.log")"
		i=$((i + 1))
		[ $i -lt 200 ] || env_die "docker-registry did not answer in 20 s"
		sleep 0.1
	done
}

# env_images: builds hello:v1 and hello:v2 and pushes them; sets ENV_HELLO_V1
# and ENV_HELLO_V2 to their references pinned by digest.
env_images() {
	out=$(sh "$ENV_ROOT/tests/images/build.sh" "$ENV_REGISTRY" hello) ||
		env_die "tests/images/build.sh failed"
	ENV_HELLO_V1=$ENV_REGISTRY/hello:v1@$(printf '%s\n' "$out" | awk '$1 == "hello:v1" {print $2}')
	ENV_HELLO_V2=$ENV_REGISTRY/hello:v2@$(printf '%s\n' "$out" | awk '$1 == "hello:v2" {print $2}')
	case $ENV_HELLO_V1$ENV_HELLO_V2 in
	*@sha256:*@sha256:*) ;;
	*) env_die "build.sh printed no digests: $out" ;;
	esac
}

# env_config IMAGE [MIN_HEALTHY]: a tinfoil-config.yml serving IMAGE's port 8080.
# busybox httpd runs as PID 1, which ignores SIGTERM: a short stop_timeout, so
# that an old version or a deleted container goes in a second, not ten.
# ENV_RESTART, when set, is the container's restart policy.
env_config() {
	cat <<YML
cvm-version: 0.7.5
containers:
  - name: "web"
    image: "$1"
    stop_timeout: 1s${ENV_RESTART:+
    restart: $ENV_RESTART}
shim:
  upstream-port: 8080
  paths:
    - "/health"
    - "/*"
deploy:
  strategy: blue-green
  min-healthy-time: ${2:-$ENV_MIN_HEALTHY}
  health-timeout: 30s
  drain-timeout: 2s
  hold-timeout: 30s
YML
}

# env_repo: a fresh git repository ENV_DIR/repo with tags v1 and v2, each a
# tinfoil-config.yml pinning hello:v1 or hello:v2.
env_repo() {
	ENV_REPO=$ENV_DIR/repo
	rm -rf "$ENV_REPO"
	git init -q -b main "$ENV_REPO" || env_die "git init failed"
	now=$(date +%s)
	env_repo_tag v1 "$ENV_HELLO_V1" "$ENV_MIN_HEALTHY" $((now - 60))
	env_repo_tag v2 "$ENV_HELLO_V2" "$ENV_MIN_HEALTHY" "$now"
}

# env_repo_tag TAG IMAGE MIN_HEALTHY WHEN: a commit at unix time WHEN (tags
# list newest first by commit time) of IMAGE's config, tagged TAG.
env_repo_tag() {
	env_config "$2" "$3" >"$ENV_REPO/tinfoil-config.yml"
	GIT_AUTHOR_NAME=berth GIT_AUTHOR_EMAIL=demo@berth.invalid \
		GIT_COMMITTER_NAME=berth GIT_COMMITTER_EMAIL=demo@berth.invalid \
		GIT_AUTHOR_DATE="@$4 +0000" GIT_COMMITTER_DATE="@$4 +0000" \
		sh -c 'git -C "$1" add tinfoil-config.yml &&
			git -C "$1" commit -q -m "$2" && git -C "$1" tag "$2"' _ "$ENV_REPO" "$1" ||
		env_die "git commit failed"
}

# env_check: dies unless berthd can start: built, its ports free.
env_check() {
	[ -x "$ENV_BUILD/berthd" ] || env_die "no $ENV_BUILD/berthd (run make build)"
	env_port_busy "$ENV_LISTEN" &&
		env_die "$ENV_LISTEN is taken (another berthd?); free it or choose other ports (see the script's header)"
	# The router of an earlier run of this state dir may still run: berthd
	# adopts it. Any other owner of the port is an error.
	if env_port_busy "$ENV_ROUTER" &&
		! env_alive "$(cat "$ENV_DIR/berthd/router.pid" 2>/dev/null)" berth-router; then
		env_die "$ENV_ROUTER is taken; free it or choose other ports (see the script's header)"
	fi
}

# env_berthd_start: berthd on ENV_LISTEN with its router on ENV_ROUTER, state in
# ENV_DIR/berthd. Sets ENV_BERTHD_PID, ENV_STATE, ENV_API, ENV_TOKEN.
env_berthd_start() {
	ENV_STATE=$ENV_DIR/berthd
	ENV_API=http://$ENV_LISTEN/api/v1
	env_check
	mkdir -p "$ENV_STATE"
	setsid "$ENV_BUILD/berthd" --state-dir "$ENV_STATE" --listen "$ENV_LISTEN" \
		--router-listen "$ENV_ROUTER" --subnet "$ENV_SUBNET" --bridge "$ENV_BRIDGE" \
		--log-level "$ENV_LOG_LEVEL" --source-root "$ENV_DIR" ${ENV_BERTHD_ARGS:-} \
		>>"$ENV_STATE/berthd.log" 2>&1 </dev/null &
	ENV_BERTHD_PID=$!
	i=0
	until curl -sf --noproxy '*' "http://$ENV_LISTEN/healthz" >/dev/null 2>&1; do
		env_running "$ENV_BERTHD_PID" ||
			env_die "berthd exited: $(tail -5 "$ENV_STATE/berthd.log")"
		i=$((i + 1))
		[ $i -lt 600 ] || env_die "berthd did not answer in 60 s"
		sleep 0.1
	done
	ENV_TOKEN=$(cat "$ENV_STATE/admin-token") || env_die "no admin token"
}

# env_api METHOD PATH [JSON]: a request to the API; the body on stdout; false
# unless the status is 2xx.
env_api() {
	curl -sS --noproxy '*' --fail-with-body -X "$1" -H "Authorization: Bearer $ENV_TOKEN" \
		${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$ENV_API$2"
}

# env_json STRING: STRING as a JSON string literal.
env_json() {
	$ENV_PY -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

# env_wait_status NAME STATUS SECONDS: waits for container NAME to be STATUS;
# false (after printing its detail) if it fails or the time runs out.
env_wait_status() {
	end=$(($(date +%s) + $3))
	while :; do
		st=$(env_api GET "/containers/$1" 2>/dev/null | jq -r '.status + " " + (.status_detail // "")' 2>/dev/null || true)
		case $st in
		"$2 "*) return 0 ;;
		"failed "*)
			env_log "$1 failed: ${st#failed }"
			return 1
			;;
		esac
		if [ "$(date +%s)" -ge "$end" ]; then
			env_log "$1: not $2 after $3 s (now: $st)"
			return 1
		fi
		sleep 0.2
	done
}

# env_stop: deletes every container (their enclaves go), stops berthd, its
# router and the registry, removes the bridge. Safe to call twice.
env_stop() {
	[ "$ENV_STOPPED" = 0 ] || return 0
	ENV_STOPPED=1
	set +e
	if env_alive "$ENV_BERTHD_PID" berthd; then
		names=$(env_api GET /containers 2>/dev/null | jq -r '.[].name' 2>/dev/null)
		for n in $names; do
			env_api DELETE "/containers/$n" >/dev/null 2>&1 ||
				env_log "DELETE $n failed"
		done
		# Deleted containers leave the list at once; the enclaves go after.
		i=0
		while [ $i -lt 600 ]; do
			left=$(env_api GET /containers 2>/dev/null | jq length 2>/dev/null)
			if [ "${left:-0}" = 0 ] &&
				[ -z "$(ls -A "$ENV_STATE/enclaves" 2>/dev/null)" ]; then
				break
			fi
			i=$((i + 1))
			sleep 0.1
		done
		[ $i -lt 600 ] || env_log "enclaves still there after 60 s: $(ls "$ENV_STATE/enclaves")"
	fi
	env_kill "$ENV_BERTHD_PID" berthd
	# The router and the bridge, if our berthd started or adopted them (not
	# another run's, when this one stopped before its berthd).
	if [ -n "$ENV_BERTHD_PID" ]; then
		env_kill "$(cat "$ENV_STATE/router.pid" 2>/dev/null)" berth-router
		rm -f "$ENV_STATE/router.pid"
		if ip link show "$ENV_BRIDGE" >/dev/null 2>&1; then
			ip link del "$ENV_BRIDGE" || env_log "could not remove the bridge $ENV_BRIDGE"
		fi
	fi
	env_kill "$ENV_REG_PID" docker-registry
	# berthd's run dir for this state dir (see recon_new), if empty now.
	if [ -n "$ENV_BERTHD_PID" ]; then
		run=/run/berth/$(printf %s "$ENV_STATE" | sha256sum | cut -c1-12)
		rmdir "$run/netns" "$run/oci" "$run/oci-runsc" "$run/bundles" "$run" 2>/dev/null
	fi
	return 0
}
