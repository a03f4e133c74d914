# SPDX-License-Identifier: Apache-2.0
# Shell test helpers. Source this from a test script; it gives each script a
# scratch directory $T (removed at exit) and TAP-style assertions that
# tests/run counts. $UPGR is the binary under test.
set -u
: "${UPGR:=$(cd "$(dirname "$0")/../.." && pwd)/upgr}"
: "${UPGR_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/upgr-test.XXXXXX")
# State that commands keep under the home (upgr publish's serials) stays here.
XDG_STATE_HOME=$T/xdg-state; export XDG_STATE_HOME
_cleanups=""
trap 'for c in $_cleanups; do $c; done; rm -rf "$T"' EXIT
at_exit() { _cleanups="$1 $_cleanups"; }

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }

# run CMD...: run, capturing stdout in $T/out, stderr in $T/err, exit in $rc.
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect_exit CODE NAME CMD...: the command exits with CODE.
expect_exit() {
	want=$1 name=$2; shift 2
	run "$@"
	if [ "$rc" = "$want" ]; then ok "$name"; else
		not_ok "$name: exit $rc, want $want"
		sed 's/^/#   stderr: /' "$T/err" | head -20
		sed 's/^/#   stdout: /' "$T/out" | head -20
	fi
}

# expect_grep FILE REGEX NAME: FILE has a line matching the extended REGEX.
expect_grep() {
	if grep -Eq -- "$2" "$1"; then ok "$3"; else
		not_ok "$3: no line matching /$2/ in $(basename "$1")"
		sed 's/^/#   /' "$1" | head -20
	fi
}

# expect_no_grep FILE REGEX NAME
expect_no_grep() {
	if grep -Eq -- "$2" "$1"; then
		not_ok "$3: unexpected /$2/ in $(basename "$1")"
		grep -E -- "$2" "$1" | sed 's/^/#   /' | head -10
	else ok "$3"; fi
}

# expect_same A B NAME: two files (or trees, with diff -r) are identical.
expect_same() {
	if diff -r "$1" "$2" >"$T/diff" 2>&1; then ok "$3"; else
		not_ok "$3"; sed 's/^/#   /' "$T/diff" | head -20
	fi
}

# check NAME CMD...: the command succeeds.
check() {
	name=$1; shift
	if "$@" >"$T/check.out" 2>&1; then ok "$name"; else
		not_ok "$name"; sed 's/^/#   /' "$T/check.out" | head -20
	fi
}
