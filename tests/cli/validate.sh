# SPDX-License-Identifier: Apache-2.0
# upgr validate: the manifest corpus (tests/manifests/good, tests/manifests/bad)
# through upgr and through the JSON Schema, which must agree wherever the
# schema can express the rule; plus the command's own error paths.
#
# Each bad manifest starts with two comment lines:
#   # expect: LINE:COL substring of the one message upgr must print
#   # schema: rejects | n/a (why the schema cannot see this rule)
. "$(dirname "$0")/../lib/testlib.sh"

M=$UPGR_TOP/tests/manifests
SCHEMA=$UPGR_TOP/schema/manifest.schema.json
PY=/usr/bin/python3

# The schema's verdict on every file, computed once: "FILE: valid" etc.
goods="$M/good/*.yaml $UPGR_TOP/examples/hello/manifest.yaml"
# shellcheck disable=SC2086
if $PY "$UPGR_TOP/tests/lib/schema_check.py" "$SCHEMA" $goods "$M"/warn/*.yaml "$M"/bad/*.yaml \
	>"$T/schema" 2>"$T/schema.err"; then
	ok "the schema is valid JSON Schema 2020-12 and loads"
else
	not_ok "schema_check.py failed"; sed 's/^/#   /' "$T/schema.err" | head -20
fi
verdict() { awk -v p="$1: " 'index($0, p) == 1 { print substr($0, length(p) + 1); exit }' "$T/schema"; }

nbad=$(ls "$M"/bad/*.yaml | wc -l)
if [ "$nbad" -ge 25 ]; then ok "at least 25 bad manifests ($nbad)"; else not_ok "only $nbad bad manifests"; fi

for f in $goods; do
	name=good/$(basename "$f")
	[ "$f" = "$UPGR_TOP/examples/hello/manifest.yaml" ] && name=examples/hello/manifest.yaml
	expect_exit 0 "$name: upgr accepts it" "$UPGR" validate "$f"
	if [ -s "$T/err" ] || [ -s "$T/out" ]; then not_ok "$name: upgr prints nothing"; fi
	v=$(verdict "$f")
	case $v in
	valid) ok "$name: the schema accepts it" ;;
	*) not_ok "$name: the schema says: $v" ;;
	esac
done

# Valid plans that would leave the service down: exit 0, one warning line
# with FILE:LINE:COL ("# warn: LINE:COL substring" first line).
for f in "$M"/warn/*.yaml; do
	name=warn/$(basename "$f")
	exp=$(sed -n '1s/^# warn: //p' "$f")
	pos=${exp%% *} msg=${exp#* }
	run "$UPGR" validate "$f"
	if [ "$rc" = 0 ] && [ "$(wc -l <"$T/err")" = 1 ] &&
	   awk -v p="$f:$pos: " -v m="$msg" 'index($0, p) == 1 && index($0, m) { found = 1 }
		END { exit !found }' "$T/err"; then
		ok "$name: exit 0, $pos: $msg"
	else
		not_ok "$name: want exit 0 and one line $pos: $msg; got exit $rc:"
		sed 's/^/#   /' "$T/err" | head -5
	fi
	[ "$(verdict "$f")" = valid ] && ok "$name: the schema accepts it" || not_ok "$name: the schema says: $(verdict "$f")"
done

for f in "$M"/bad/*.yaml; do
	name=bad/$(basename "$f")
	exp=$(sed -n '1s/^# expect: //p' "$f")
	if [ -z "$exp" ]; then not_ok "$name: no '# expect: LINE:COL message' first line"; continue; fi
	pos=${exp%% *} msg=${exp#* }
	run "$UPGR" validate "$f"
	n=$(wc -l <"$T/err")
	if [ "$rc" = 65 ] && [ "$n" = 1 ] && [ ! -s "$T/out" ] &&
	   awk -v p="$f:$pos: " -v m="$msg" 'index($0, p) == 1 && index($0, m) { found = 1 }
		END { exit !found }' "$T/err"; then
		ok "$name: exit 65, $pos: $msg"
	else
		not_ok "$name: want exit 65 and one line $pos: $msg; got exit $rc:"
		sed 's/^/#   /' "$T/err" | head -5
	fi
	if sed -n 2p "$f" | grep -q '^# schema: n/a'; then
		echo "# $name: schema $(sed -n '2s/^# schema: //p' "$f")"
		continue
	fi
	v=$(verdict "$f")
	case $v in
	invalid*) ok "$name: the schema rejects it too" ;;
	*) not_ok "$name: upgr rejects it, the schema says: $v" ;;
	esac
done

# Inputs that are easier made than stored.
printf 'upgr: 1\napp: he\000llo\n' >"$T/nul.yaml"
expect_exit 65 "NUL byte: exit 65" "$UPGR" validate "$T/nul.yaml"
expect_grep "$T/err" "nul.yaml:2:8: NUL byte" "NUL byte: positioned"

{ cat "$M/good/minimal.yaml"; head -c 4194304 /dev/zero | tr '\0' '#'; } >"$T/big.yaml"
expect_exit 65 "over 4 MiB: exit 65" "$UPGR" validate "$T/big.yaml"
expect_grep "$T/err" "big.yaml: cannot read: .*larger than 4194304 bytes" "over 4 MiB: refused unread"

# An alias bomb is refused at its first anchor, fast, whatever its size.
{
	echo 'upgr: 1'
	echo 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]'
	i=1; while [ $i -le 20 ]; do
		echo "a$i: &a$i [*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1))]"
		i=$((i + 1))
	done
} >"$T/bomb.yaml"
expect_exit 65 "alias bomb: exit 65" timeout 5 "$UPGR" validate "$T/bomb.yaml"
expect_grep "$T/err" "bomb.yaml:2:5: anchor '&a0'" "alias bomb: refused at the first anchor"

# Several files: the good ones print nothing, every problem of every bad one is listed.
cat >"$T/many.yaml" <<'YAML'
upgr: 1
app: Hello
version: 1.0
target: /opt/hello
files:
  - path: ../x
    mode: "999"
stpo: []
YAML
expect_exit 65 "several files: exit 65" "$UPGR" validate "$M/good/minimal.yaml" "$T/many.yaml" "$T/missing.yaml"
if [ "$(wc -l <"$T/err")" = 6 ]; then ok "several files: every problem listed"; else
	not_ok "several files: want 6 lines"; sed 's/^/#   /' "$T/err"; fi
expect_grep "$T/err" "many.yaml:8:1: stpo: unknown key \(did you mean 'stop'\?\)" "several files: did you mean"
expect_grep "$T/err" "many.yaml:7:11: files\[0\]\.mode: \"999\" is not an octal mode" "several files: last problem too"
expect_grep "$T/err" "missing.yaml: cannot read: " "several files: unreadable file reported"
expect_no_grep "$T/err" "minimal.yaml" "several files: the good one is quiet"

expect_exit 65 "unreadable file: exit 65" "$UPGR" validate "$T/nope.yaml"
expect_exit 65 "a directory: exit 65" "$UPGR" validate "$T"
expect_exit 2 "no FILE: usage, exit 2" "$UPGR" validate
expect_grep "$T/err" "^usage: upgr validate" "no FILE: usage on stderr"
expect_exit 2 "unknown option: exit 2" "$UPGR" validate --frob x.yaml
expect_exit 0 "--help: exit 0" "$UPGR" validate --help
expect_grep "$T/out" "^usage: upgr validate FILE" "--help: usage on stdout"
