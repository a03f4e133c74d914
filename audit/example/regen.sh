#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerate the example: audit.log (5 records written by upgr's own
# audit_append, through the unit test binary's generator) and device.pub.
# A fresh device key is made each time and its secret half thrown away.
#   sh audit/example/regen.sh        (after make unit)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
gen="$top/${UPGR_BUILD:-build/plain}/tests/test_audit"
[ -x "$gen" ] || make -C "$top" --no-print-directory "${UPGR_BUILD:-build/plain}/tests/test_audit"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$gen" --gen "$t/audit.log" "$t/device.key" 5
cp "$t/audit.log" "$t/device.pub" "$top/audit/example/"
chmod 0644 "$top/audit/example/audit.log"
"$top/upgr" audit verify -p "$top/audit/example/device.pub" "$top/audit/example/audit.log"
sh "$top/audit/verify" "$top/audit/example/device.pub" "$top/audit/example/audit.log"
