#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: 1000 hosts (FLEET_HOSTS) started together against one local
# vsftpd, each `upgr run` installing a small release (10 files, 100 kB)
# and reporting: the time until all are upgraded and reported. At most
# FLEET_PARALLEL (default 1000: all) run at once. Then the fleet
# simulator once, small (2 servers, 100 hosts), as an example of sizing.
# The work is tests/bench/fleetsim.sh's.
dir=$(dirname "$0")
: "${FLEET_HOSTS:=1000}"
: "${FLEET_PARALLEL:=$FLEET_HOSTS}"
BENCH_RECORD_FLEET=fleet sh "$dir/fleetsim.sh" -n "$FLEET_HOSTS" -m 1 -s 100k \
	-p "$FLEET_PARALLEL" >&2 || exit 1
BENCH_RECORD_FLEET=sim sh "$dir/fleetsim.sh" -n 100 -m 2 -s 1M >&2
