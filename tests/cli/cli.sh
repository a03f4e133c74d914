# SPDX-License-Identifier: Apache-2.0
# The command line: help, version, unknown commands and options.
. "$(dirname "$0")/../lib/testlib.sh"

expect_exit 0 "--help exits 0" "$UPGR" --help
expect_grep "$T/out" "^usage: upgr" "--help prints usage on stdout"
expect_exit 0 "--version exits 0" "$UPGR" --version
expect_grep "$T/out" "^upgr [0-9]+\.[0-9]+\.[0-9]+" "--version prints the version"
expect_exit 2 "unknown command exits 2" "$UPGR" frobnicate
expect_grep "$T/err" "unknown command 'frobnicate'" "unknown command is named"
expect_grep "$T/err" "^usage:" "unknown command prints usage on stderr"

# Short options mean the same in every command (upgr(1), "Short options"):
# each "-X, --long" line of every --help, one letter for one long option
# and one long option for one letter; -c is --config wherever it exists;
# and each letter a --help lists is one the command accepts.
"$UPGR" --help >"$T/top"
cmds=$(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } /^$/ { f = 0 }' "$T/top")
: >"$T/pairs"
for c in $cmds; do
	"$UPGR" "$c" --help >"$T/h" 2>&1
	sed -nE 's/^ +-([A-Za-z]), --([a-z][a-z-]*)( ([A-Z][A-Z|.]*))?.*/'"$c"' \1 \2 \4/p' \
		"$T/h" >>"$T/pairs"
done
check "the --help texts list short options" test "$(wc -l <"$T/pairs")" -gt 40
awk '{ print $2, $3 }' "$T/pairs" | sort -u |
	awk '{ n[$1]++; l[$1] = l[$1] " --" $2 } END { for (k in n) if (n[k] > 1) print "-" k ":" l[k] }' \
	>"$T/byletter"
check "one short letter means one long option in every command: $(tr '\n' ' ' <"$T/byletter")" \
	test ! -s "$T/byletter"
awk '{ print $3, $2 }' "$T/pairs" | sort -u |
	awk '{ n[$1]++; l[$1] = l[$1] " -" $2 } END { for (k in n) if (n[k] > 1) print "--" k ":" l[k] }' \
	>"$T/bylong"
check "one long option has one short letter in every command: $(tr '\n' ' ' <"$T/bylong")" \
	test ! -s "$T/bylong"
bad=""
for c in $cmds; do
	"$UPGR" "$c" --help 2>&1 | grep -q -- '--config' || continue
	grep -q "^$c c config" "$T/pairs" || bad="$bad $c"
done
check "-c is --config in every command that has --config:$bad" test -z "$bad"
check "-c means --config and nothing else" \
	test -z "$(awk '$2 == "c" && $3 != "config"' "$T/pairs")"
for l in r N C S K; do
	want=$(awk -v l="$l" '$2 == l { print $3; exit }' "$T/pairs")
	check "transport letter -$l is listed (--$want)" test -n "$want"
done
subs_of() {
	case $1 in
	audit) echo "show verify" ;; fleet) echo "status verify" ;;
	trust) echo "sign show publish" ;; rollout) echo "status start" ;; *) echo "-" ;;
	esac
}
bad=""
while read -r c l long arg; do
	took="" v="$T/none"
	case $arg in DURATION) v=1d ;; PERCENT | PCT) v=50 ;; LIST) v=1,100 ;; TIME) v=2026-01-01T00:00:00Z ;; esac
	for s in $(subs_of "$c"); do
		[ "$s" = - ] && s=""
		if [ -n "$arg" ]; then
			"$UPGR" "$c" $s "-$l" "$v" --help >/dev/null 2>&1 && took=1
		else
			"$UPGR" "$c" $s "-$l" --help >/dev/null 2>&1 && took=1
		fi
		[ -n "$took" ] && break
	done
	[ -n "$took" ] || bad="$bad $c:-$l"
done <"$T/pairs"
check "every letter a --help lists is accepted:$bad" test -z "$bad"
