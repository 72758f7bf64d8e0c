#!/bin/sh
# Runs the dashboard's browser tests (tests/browser) against the binaries of
# build dir $1: real berthd, real enclaves, Debian's chromium driven by
# playwright-core from node_modules (scripts/install-deps.sh installs both).
# Fails, saying why, when chromium, node or node_modules is missing: never
# skips. tests/pytest.ini sets -rs and the per-test timeout.
# BERTH_SCREENSHOTS=DIR saves screenshots of the dashboard there.
set -u
BERTH_BUILD=$(cd "${1:-build-asan}" && pwd) || exit 1
export BERTH_BUILD
cd "$(dirname "$0")/.." || exit 1
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM
if [ ! -x "$CHROMIUM" ]; then
	echo "browser tests: FAILED: no chromium at $CHROMIUM (scripts/install-deps.sh installs it)"
	exit 1
fi
if [ ! -d node_modules/playwright-core ] || ! command -v node >/dev/null; then
	echo "browser tests: FAILED: node or node_modules/playwright-core missing (scripts/install-deps.sh installs both)"
	exit 1
fi
echo "== browser tests: tests/browser"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser
rc=$?
if [ $rc -ne 0 ]; then
	echo "browser tests failed (pytest exit $rc)"
	exit 1
fi
echo "browser tests: passed"
