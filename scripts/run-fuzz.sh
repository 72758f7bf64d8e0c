#!/bin/sh
# Runs every libFuzzer target of build dir $1 for $2 seconds over its seed corpus.
set -eu
dir=$1
secs=${2:-60}
for bin in "$dir"/fuzz/fuzz_*; do
	name=$(basename "$bin")
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	work="$dir/corpus-run/$name"
	mkdir -p "$work"
	echo "fuzz: $name for ${secs}s"
	"$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 "$work" "$seeds"
done
