#!/bin/sh
# Runs the pytest system tests against the binaries of build dir $1, one
# pytest run per folder of tests/system (each folder's conftest.py is its own,
# and several of them are imported as `conftest` by their tests).
set -u
BERTH_BUILD=$(cd "${1:-build}" && pwd)
BERTH_RELEASE_BUILD=$(pwd)/build
export BERTH_BUILD BERTH_RELEASE_BUILD
failed=""
for dir in tests/system/*/; do
	[ -n "$(find "$dir" -maxdepth 1 -name 'test_*.py')" ] || continue
	echo "== system tests: $dir"
	/usr/bin/python3 -m pytest -q -p no:cacheprovider "$dir"
	rc=$?
	# 5: no test collected, not a failure.
	if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then
		failed="$failed $dir"
	fi
done
if [ -n "$failed" ]; then
	echo "system tests failed in:$failed"
	exit 1
fi
echo "system tests: all folders passed"
