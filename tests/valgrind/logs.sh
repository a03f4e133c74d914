# SPDX-License-Identifier: Apache-2.0
# After the tests of `make valgrind`: one "ok" for the number of upgr
# processes valgrind watched, one "not ok" per process it reported on
# (with the start of its report).
logs=${UPGR_VALGRIND_LOGS:?run by tests/valgrind/run}
n=0 bad=0
for f in "$logs"/*.log; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	if [ -s "$f" ]; then
		bad=$((bad + 1))
		echo "not ok - valgrind: $(basename "$f"): $(grep -m1 -E '^==[0-9]+== [A-Z]' "$f" | sed 's/^==[0-9]*== //')"
		sed 's/^/#   /' "$f" | head -40
	fi
done
[ $n -gt 0 ] && echo "ok - valgrind watched $n upgr processes, $bad with errors" ||
	echo "not ok - valgrind watched no upgr process"
