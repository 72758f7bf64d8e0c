#!/bin/sh
# Runs the pytest system tests against the binaries of build dir $1, one
# pytest run per folder of tests/system (each folder's conftest.py is its own,
# and several of them are imported as `conftest` by their tests).
# tests/pytest.ini sets -rs (skips listed with their reason) and the per-test
# timeout; tests/system/suite_checks.py fails a test on a sanitizer report and
# a folder that leaves something behind.
set -u
BERTH_BUILD=$(cd "${1:-build}" && pwd)
BERTH_RELEASE_BUILD=$(pwd)/build
export BERTH_BUILD BERTH_RELEASE_BUILD
failed=""
for dir in tests/system/*/; do
	[ -n "$(find "$dir" -maxdepth 1 -name 'test_*.py')" ] || continue
	echo "== system tests: $dir"
	/usr/bin/python3 -m pytest -q -p no:cacheprovider "$dir"
	# Any non-zero exit fails, 5 too: a folder of test files that collects
	# no test is broken.
	[ $? -eq 0 ] || failed="$failed $dir"
done
if [ -n "$failed" ]; then
	echo "system tests failed in:$failed"
	exit 1
fi
echo "system tests: all folders passed"
