#!/bin/sh
# build.sh: builds berth's small test images from busybox-static with umoci and
# pushes them with skopeo to a plain-HTTP registry.
#
# Usage: tests/images/build.sh REGISTRY [IMAGE...]
#   REGISTRY  host:port of the registry, e.g. 127.0.0.1:5000 (pushed over HTTP)
#   IMAGE     any of: hello broken slow crash env keys big (default: all but big)
# Environment:
#   HELLO_VERSION  version text of hello (default: pushes hello:v1 and hello:v2)
#   BIG_LAYERS, BIG_LAYER_MIB  shape of big (default 5 layers of 20 MiB random data)
#   DEST_CREDS     user:password for a registry with basic auth
#   WORKDIR        where the OCI layouts are built (default: a temp dir, removed)
#
# Output: one line per pushed image, "NAME:TAG sha256:<manifest digest>", so a
# config can pin "REGISTRY/NAME:TAG@sha256:...".
#
# The images (each entrypoint runs busybox; PORT defaults to 8080):
#   hello:v1, hello:v2  busybox httpd serving "hello v1\n" (or v2) at / and /health
#   broken:v1           never healthy: sleeps, serves nothing on PORT
#   slow:v1             serves like hello, but only after SLOW_SECONDS (default 5)
#   crash:v1            exits with status 1 at once
#   env:v1              httpd whose /cgi-bin/env prints the container's environment
#   keys:v1             httpd and /bin/uds-get (uds-get.c, built static with cc):
#                       GET over a unix socket, for the local attestation socket
#   big:v1              BIG_LAYERS layers of random data, busybox in the first (benchmarks)
set -eu

REG=${1:?usage: build.sh REGISTRY [IMAGE...]}
shift
IMAGES=${*:-hello broken slow crash env}
BUSYBOX=${BUSYBOX:-/bin/busybox}
OWN_WORKDIR=0
if [ -z "${WORKDIR:-}" ]; then
	WORKDIR=$(mktemp -d /tmp/berth-images.XXXXXX)
	OWN_WORKDIR=1
fi
cleanup() { [ "$OWN_WORKDIR" = 1 ] && rm -rf "$WORKDIR"; }
trap cleanup EXIT

OCI="$WORKDIR/oci"
[ -d "$OCI" ] || umoci init --layout "$OCI"

ROOTLESS=
[ "$(id -u)" = 0 ] || ROOTLESS=--rootless

# base TAG: a fresh image TAG unpacked into a bundle whose ROOTFS holds busybox
# (sh and a few applets as links). umoci repack, not umoci insert: the Debian
# umoci 0.4.7's insert writes tar streams without their end (truncated).
base() {
	tag=$1
	umoci new --image "$OCI:$tag"
	BUNDLE="$WORKDIR/bundle-$tag"
	rm -rf "$BUNDLE"
	umoci unpack $ROOTLESS --image "$OCI:$tag" "$BUNDLE" >/dev/null
	ROOTFS="$BUNDLE/rootfs"
	mkdir -p "$ROOTFS/bin" "$ROOTFS/www" "$ROOTFS/tmp"
	cp "$BUSYBOX" "$ROOTFS/bin/busybox"
	for a in sh httpd sleep env echo cat ls; do
		ln -s busybox "$ROOTFS/bin/$a"
	done
}

# commit TAG: what changed in ROOTFS as a new layer of TAG (the bundle stays
# usable for the next layer).
commit() {
	umoci repack --image "$OCI:$1" "$BUNDLE" >/dev/null
}

# entry TAG SCRIPT: entrypoint /bin/sh -c SCRIPT, with PORT=8080 in the environment.
entry() {
	umoci config --image "$OCI:$1" --config.entrypoint /bin/sh --config.entrypoint -c \
		--config.entrypoint "$2" --config.env PORT=8080 --config.workingdir / \
		--config.stopsignal SIGTERM --architecture amd64 --os linux
}

push() {
	name=$1
	tag=$2
	# shellcheck disable=SC2086
	skopeo copy -q --dest-tls-verify=false ${DEST_CREDS:+--dest-creds "$DEST_CREDS"} \
		"oci:$OCI:$name-$tag" "docker://$REG/$name:$tag" >&2
	digest=$(sha256sum "$OCI/blobs/sha256/$(manifest_hex "$name-$tag")" | cut -d' ' -f1)
	echo "$name:$tag sha256:$digest"
}

# manifest_hex TAG: the hex digest of TAG's manifest in the layout's index.
manifest_hex() {
	/usr/bin/python3 - "$OCI/index.json" "$1" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"].split(":", 1)[1])
PY
}

# shellcheck disable=SC2016 # expanded by the container's shell
HTTPD='exec httpd -f -p "${PORT:-8080}" -h /www'

hello() {
	for v in ${HELLO_VERSION:-v1 v2}; do
		base "hello-$v"
		printf 'hello %s\n' "$v" >"$ROOTFS/www/index.html"
		printf 'ok %s\n' "$v" >"$ROOTFS/www/health"
		commit "hello-$v"
		entry "hello-$v" "$HTTPD"
		push hello "$v"
	done
}

broken() {
	base broken-v1
	commit broken-v1
	entry broken-v1 'exec sleep 1000000'
	push broken v1
}

slow() {
	base slow-v1
	echo 'slow' >"$ROOTFS/www/index.html"
	echo 'ok' >"$ROOTFS/www/health"
	commit slow-v1
	entry slow-v1 "sleep \"\${SLOW_SECONDS:-5}\"; $HTTPD"
	push slow v1
}

crash() {
	base crash-v1
	commit crash-v1
	entry crash-v1 'echo crashing >&2; exit 1'
	push crash v1
}

env_image() {
	base env-v1
	mkdir -p "$ROOTFS/www/cgi-bin"
	echo 'ok' >"$ROOTFS/www/health"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nenv | sort\n' \
		>"$ROOTFS/www/cgi-bin/env"
	chmod 755 "$ROOTFS/www/cgi-bin/env"
	commit env-v1
	entry env-v1 "$HTTPD"
	push env v1
}

keys() {
	base keys-v1
	echo 'ok' >"$ROOTFS/www/health"
	${CC:-cc} -static -O2 -o "$ROOTFS/bin/uds-get" "$(dirname "$0")/uds-get.c"
	# Its containers run as a user too: the rootfs is theirs to cross.
	chmod 755 "$ROOTFS" "$ROOTFS/bin" "$ROOTFS/www" "$ROOTFS/tmp"
	commit keys-v1
	entry keys-v1 "$HTTPD"
	push keys v1
}

big() {
	base big-v1
	mkdir -p "$ROOTFS/data"
	i=1
	while [ "$i" -le "${BIG_LAYERS:-5}" ]; do
		head -c "$((${BIG_LAYER_MIB:-20} * 1048576))" /dev/urandom >"$ROOTFS/data/$i"
		commit big-v1
		i=$((i + 1))
	done
	entry big-v1 'exec sleep 1000000'
	rm -rf "$BUNDLE"
	push big v1
}

for img in $IMAGES; do
	case $img in
	hello | broken | slow | crash | keys | big) "$img" ;;
	env) env_image ;;
	*)
		echo "build.sh: unknown image $img" >&2
		exit 2
		;;
	esac
done
