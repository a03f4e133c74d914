# SPDX-License-Identifier: Apache-2.0
# The documentation: every man page renders without a warning, and upgr(1)
# agrees with the binary. For every command that `upgr --help` lists, each
# option its `--help` prints is documented in its ".SS upgr NAME" section
# of docs/upgr.1, and each option documented there exists. Commands not yet
# built are not listed by --help, so they are not checked.
. "$(dirname "$0")/../lib/testlib.sh"

top=$UPGR_TOP
man1=$top/docs/upgr.1

for page in "$top"/docs/*.[1-8]; do
	[ -f "$page" ] || continue
	name=${page##*/}
	MANWIDTH=80 man -E ascii -l --warnings "$page" 2>"$T/warn" >"$T/text"
	if [ -s "$T/warn" ]; then not_ok "$name renders without warnings"
		sed 's/^/#   /' "$T/warn" | head
	else ok "$name renders without warnings"; fi
	groff -man -Tutf8 -ww -z "$page" >"$T/warn" 2>&1
	if [ -s "$T/warn" ]; then not_ok "$name: groff -ww is silent"
		sed 's/^/#   /' "$T/warn" | head
	else ok "$name: groff -ww is silent"; fi
	# No line wider than the terminal (an unbreakable example, a long tag).
	awk -v n="$name" 'length($0) > 80 { print n ": " $0; bad = 1 } END { exit bad }' \
		"$T/text" >"$T/wide"
	if [ -s "$T/wide" ]; then not_ok "$name fits 80 columns"; sed 's/^/#   /' "$T/wide" | head
	else ok "$name fits 80 columns"; fi
done

for p in upgr.1 upgr-status.1 upgr-manifest.5 upgr.yaml.5 upgr-audit.5; do
	if [ -f "$top/docs/$p" ]; then ok "docs/$p exists"; else not_ok "docs/$p exists"; fi
done

# man_opts CMD: the options in the .TP tags of the sections "upgr CMD..."
# of upgr.1 (one per line, roff's \- turned into -).
man_opts() {
	awk -v cmd="$1" '
		/^\.SS / {
			s = $0; sub(/^\.SS +"?/, "", s); sub(/"$/, "", s)
			n = split(s, w, " ")
			insec = (w[1] == "upgr" && w[2] == cmd)
			next
		}
		/^\.SH / { insec = 0; next }
		insec && tag { print; tag = 0; next }
		insec && /^\.TP/ { tag = 1 }
	' "$man1" | sed 's/\\f[BIRP]//g; s/\\-/-/g' | grep -oE -- '(^|[ "(])--?[a-zA-Z][a-zA-Z0-9-]*' |
		sed 's/^[ "(]*//' | grep -vxE -- '-h|--help' | sort -u
}

# help_opts CMD: the options `upgr CMD --help` (and its subcommands') print
# in the usage lines and the option table (not those named in prose).
help_opts() {
	{
		"$UPGR" "$1" --help 2>/dev/null
		for sub in show verify status; do "$UPGR" "$1" "$sub" --help 2>/dev/null; done
	} | grep -E -- '^(usage:|[[:space:]]+upgr |[[:space:]]*-)' |
		grep -oE -- '(^|[][ ,|(])--?[a-zA-Z][a-zA-Z0-9-]*' |
		sed 's/^[][ ,|(]*//' | grep -vxE -- '-h|--help' | sort -u
}

run "$UPGR" --help
cp "$T/out" "$T/top"
cmds=$(sed -n '/^commands:/,/^$/ s/^  \([a-z][a-z-]*\) .*/\1/p' "$T/top")
if [ -n "$cmds" ]; then ok "upgr --help lists commands: $(echo $cmds)"
else ok "upgr --help lists no command yet"; fi

for c in $cmds; do
	if grep -qE "^\.SS \"?upgr $c( |\"|$)" "$man1"; then ok "upgr.1 documents 'upgr $c'"
	else not_ok "upgr.1 has no section .SS \"upgr $c\""; continue; fi
	man_opts "$c" >"$T/man.$c"
	help_opts "$c" >"$T/help.$c"
	missing=$(comm -23 "$T/help.$c" "$T/man.$c" | tr '\n' ' ')
	extra=$(comm -13 "$T/help.$c" "$T/man.$c" | tr '\n' ' ')
	if [ -z "$missing" ]; then ok "upgr.1 documents every option of 'upgr $c --help'"
	else not_ok "upgr.1 'upgr $c' lacks: $missing"; fi
	if [ -z "$extra" ]; then ok "every option upgr.1 gives 'upgr $c' exists"
	else not_ok "upgr.1 'upgr $c' documents options --help does not print: $extra"; fi
done

# Every exit code in src/err.h is explained under EXIT STATUS.
sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$man1" >"$T/exits"
for code in $(sed -n 's/^[[:space:]]*EXIT_[A-Z_]* = \([0-9]*\),.*/\1/p' "$top/src/err.h"); do
	expect_grep "$T/exits" "^\.B $code\$" "upgr.1 explains exit code $code"
done

# Every key the configuration reader accepts is documented in upgr.yaml(5)
# as a .TP tag, and named in the example configuration.
keys=$(sed -n '/config_keys\[\] = {/,/NULL/p' "$top/src/config.c" | grep -o '"[a-z_]*"' | tr -d '"')
for k in $keys; do
	if awk -v k="$k" 'tag { if ($0 ~ ("^\\.BR? (.*[ \"])?" k "([ \",]|$)")) f = 1; tag = 0 }
		/^\.TP/ { tag = 1 } END { exit !f }' "$top/docs/upgr.yaml.5"
	then ok "upgr.yaml.5 documents $k"; else not_ok "upgr.yaml.5 does not document $k"; fi
	expect_grep "$top/examples/upgr.yaml" "^#?$k:" "examples/upgr.yaml names $k"
done

# Every key the manifest reader accepts is in upgr-manifest(5), and the
# required ones are marked so.
mkeys() { sed -n "/const $1\[\] = {\$/,/NULL/p; s/.*const $1\[\] = {\(.*\)/\1/p" "$top/src/manifest.c" |
	grep -o '"[a-z_]*"' | tr -d '"'; }
for k in $(mkeys top_keys) $(mkeys payload_keys) $(mkeys file_keys) $(mkeys health_keys) \
	$(mkeys pre_kinds); do
	expect_grep "$top/docs/upgr-manifest.5" "^\.BI? \"?$k\b|^\.BR $k\b|^\.BI \"$k: " "upgr-manifest.5 documents $k"
done
for k in $(mkeys disk_keys); do
	expect_grep "$top/docs/upgr-manifest.5" "disk_free: \\{ .*\\b$k: " "upgr-manifest.5 documents disk_free's $k"
done
for k in $(mkeys top_required) $(mkeys file_required); do
	expect_grep "$top/docs/upgr-manifest.5" "^\.BR $k \" \(required\)\"" "upgr-manifest.5 marks $k required"
done

# The variables release commands get (DESIGN.md) are all documented.
for v in UPGR_APP UPGR_VERSION UPGR_FROM UPGR_ROOT UPGR_TARGET UPGR_PHASE; do
	expect_grep "$man1" "^\.B $v\$" "upgr.1 documents $v"
done

# The guides exist, and every relative link in them and in README.md
# points at a file of the tree.
for g in release-author reviewer operator auditor architecture; do
	if [ -s "$top/docs/$g.md" ]; then ok "docs/$g.md exists"; else not_ok "docs/$g.md exists"; fi
done
for md in "$top"/README.md "$top"/docs/*.md; do
	[ -f "$md" ] || continue
	dir=$(dirname "$md")
	grep -oE '\]\([^)#:]+(#[^)]*)?\)' "$md" | sed 's/^](//; s/)$//; s/#.*//' |
		while read -r link; do
			[ -n "$link" ] || continue
			[ -e "$dir/$link" ] || echo "$link"
		done >"$T/dead"
	if [ -s "$T/dead" ]; then not_ok "${md#"$top"/}: links resolve"; sed 's/^/#   /' "$T/dead"
	else ok "${md#"$top"/}: links resolve"; fi
done

# The auditor's by-hand recipe (docs/auditor.md, "By hand") works as
# written: run its code blocks on a log signed with openssl in upgr's
# record format, compare with `upgr audit verify`, then tamper with it.
recipe=$T/recipe.sh
awk '/^### By hand/ { on = 1 } /^4\. / { on = 0 }
	on && /^   ```sh$/ { code = 1; next } on && /^   ```$/ { code = 0; next }
	on && code { sub(/^   /, ""); print }' "$top/docs/auditor.md" >"$recipe"
if grep -q 'openssl pkeyutl -verify' "$recipe"; then ok "auditor.md: recipe extracted"
else not_ok "auditor.md: recipe extracted"; fi
a=$T/aud && mkdir "$a"
openssl genpkey -algorithm ed25519 -out "$a/k.pem" 2>/dev/null
{ echo "untrusted comment: test key"
  { printf 'Ed12345678'; openssl pkey -in "$a/k.pem" -pubout -outform DER | tail -c 32; } |
	openssl base64 -A; echo; } >"$a/web-17.pub"
prev=$(printf 'upgr audit log genesis v1' | sha256sum | cut -d' ' -f1)
: >"$a/audit.log"
for seq in 1 2 3; do
	printf -- '---\nseq: %s\ntime: "2026-11-25T08:00:0%s.000Z"\nhost: "web-17"\napp: "hello"\naction: "upgrade"\nfrom: "1.0.%s"\nto: "1.0.%s"\nresult: "success"\nduration_ms: 10\ndowntime_ms: 2\nmanifest_sha256: ""\nsteps: []\nerror: ""\nprev: "%s"\n' \
		"$seq" "$seq" "$((seq - 1))" "$seq" "$prev" >"$a/msg"
	openssl pkeyutl -sign -inkey "$a/k.pem" -rawin -in "$a/msg" -out "$a/sig"
	{ cat "$a/msg"; printf 'sig: "%s"\n' "$(openssl base64 -A -in "$a/sig")"; } >"$a/rec"
	prev=$(sha256sum "$a/rec" | cut -d' ' -f1)
	cat "$a/rec" >>"$a/audit.log"
done
(cd "$a" && sh "$recipe") >"$T/recipe.out" 2>&1
expect_grep "$T/recipe.out" "^3 records, head $prev\$" "auditor.md recipe: intact log, right head"
expect_no_grep "$T/recipe.out" "rec\." "auditor.md recipe: no complaint on an intact log"
if "$UPGR" --help | grep -q '^  audit '; then
	run "$UPGR" audit verify -p "$a/web-17.pub" "$a/audit.log"
	expect_grep "$T/out" "3 records, head $prev, intact" "upgr audit verify agrees with the recipe"
fi
sed 's/^from: "1.0.1"/from: "0.9.9"/' "$a/audit.log" >"$a/edited" && mv "$a/edited" "$a/audit.log"
rm -f "$a"/rec.*
(cd "$a" && sh "$recipe") >"$T/recipe.out" 2>&1
expect_grep "$T/recipe.out" "^rec\.2: bad signature" "auditor.md recipe: an edited record fails its signature"
expect_grep "$T/recipe.out" "^rec\.3: prev is not the hash" "auditor.md recipe: the next record's prev no longer matches"

# The recipe on a log that upgr itself wrote (audit/example/), when present.
if [ -f "$top/audit/example/audit.log" ] && [ -f "$top/audit/example/device.pub" ]; then
	e=$T/example && mkdir "$e"
	cp "$top/audit/example/audit.log" "$e/audit.log"
	cp "$top/audit/example/device.pub" "$e/web-17.pub"
	(cd "$e" && sh "$recipe") >"$T/recipe.out" 2>&1
	head=$(tail -c +1 "$e/audit.log" | awk '/^---$/ { n++ } { print > ("'"$T"'/ex." n) } END { print n }')
	want=$(sha256sum "$T/ex.$head" | cut -d' ' -f1)
	expect_grep "$T/recipe.out" "^$head records, head $want\$" "auditor.md recipe verifies audit/example, written by upgr"
	expect_no_grep "$T/recipe.out" "rec\." "auditor.md recipe: audit/example has no complaint"
fi
