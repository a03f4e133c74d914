# SPDX-License-Identifier: Apache-2.0
# A short fuzzing pass over every parser (manifest, channel, config,
# minisign keys and signatures, audit log, payload extraction) and a replay
# of every crash saved as a regression. `make fuzz FUZZ_TIME=600` is the
# long run by hand.
. "$(dirname "$0")/../lib/testlib.sh"
secs=${UPGR_FUZZ_TIME:-5}
[ -n "${SANITIZE:-}" ] && secs=2      # the fuzzers are sanitized already
sh "$UPGR_TOP/tests/fuzz/run" "$secs"
