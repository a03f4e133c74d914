# SPDX-License-Identifier: Apache-2.0
# kill_each SYSCALLS -- CMD...: for each syscall named in SYSCALLS (one
# word, comma-separated), run CMD again and again under strace, SIGKILLed
# at its 1st, 2nd, ... such call, until a run makes fewer calls and ends on
# its own (it must exit 0). Before each run: $KILL_RESET; after each kill:
# $KILL_CHECK "SIGKILL at SYSCALL #N". Counts the kills in $kills.
# (LeakSanitizer cannot run under ptrace: leaks are off for the strace runs.)
: "${T:?source testlib.sh first}"

kill_each() {
	_scs=$1; shift 2
	kills=0
	for _sc in $(echo "$_scs" | tr , ' '); do
		_n=1
		while :; do
			$KILL_RESET
			ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace="$_sc" \
				-e inject="$_sc":signal=KILL:when=$_n "$@" >/dev/null 2>"$T/kill.err"
			_rc=$?
			[ $_rc = 137 ] || break          # fewer than _n such calls: done
			kills=$((kills + 1))
			$KILL_CHECK "SIGKILL at $_sc #$_n"
			_n=$((_n + 1))
		done
		[ $_rc = 0 ] && ok "with fewer than $_n ${_sc}s killed, the run completes" ||
			{ not_ok "after $_sc #$_n: exit $_rc"; sed 's/^/#   /' "$T/kill.err"; }
	done
}
