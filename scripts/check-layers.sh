#!/bin/sh
# The libraries do not loop (CMakeLists.txt): the core's modules include
# nothing of berthd's API and daemon, the CLI or the router's data plane (its
# admin client, router/router_client.h, is the core's); the router and the CLI
# include nothing of berthd. Prints each include that breaks this.
cd "$(dirname "$0")/.."
core="common config store model image runtime health source secret tls eventlog lifecycle recon"
bad=0
check() { # $1: folders, $2: forbidden include pattern
	for m in $1; do
		[ -d "src/$m" ] || continue
		hits=$(grep -n -E "#include \"($2)/" "src/$m"/*.[ch] | grep -v '"router/router_client.h"')
		if [ -n "$hits" ]; then
			echo "$hits"
			bad=1
		fi
	done
}
check "$core" "api|daemon|cli|router|berthd"
check "router cli fetch" "api|daemon|berthd"
check "api daemon" "cli"
if [ $bad -ne 0 ]; then
	echo "check-layers: the includes above make the libraries loop"
	exit 1
fi
