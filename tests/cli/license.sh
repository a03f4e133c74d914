# SPDX-License-Identifier: Apache-2.0
# The licence: LICENSE is the Apache License 2.0, the package's copyright
# file names it in Debian's machine-readable format, and every source file
# and script (the list is pkg/spdx-files.sh's) has an SPDX line in its
# first 5 lines. pkg/spdx-add.sh adds the missing ones.
. "$(dirname "$0")/../lib/testlib.sh"
top=$UPGR_TOP
. "$top/pkg/spdx-files.sh"

expect_grep "$top/LICENSE" '^ +Apache License$' "LICENSE: the Apache License"
expect_grep "$top/LICENSE" '^ +Version 2\.0, January 2004$' "LICENSE: version 2.0"
expect_grep "$top/LICENSE" 'END OF TERMS AND CONDITIONS' "LICENSE: the full text"
if [ -f /usr/share/common-licenses/Apache-2.0 ]; then
	expect_same /usr/share/common-licenses/Apache-2.0 "$top/LICENSE" \
		"LICENSE: the canonical text, unaltered"
fi

cr=$top/pkg/deb/copyright
expect_grep "$cr" '^Format: https://www\.debian\.org/doc/packaging-manuals/copyright-format/1\.0/$' \
	"copyright: DEP-5 Format line"
expect_grep "$cr" '^Files: \*$' "copyright: a Files: * paragraph"
expect_grep "$cr" '^License: Apache-2\.0$' "copyright: License: Apache-2.0"
expect_no_grep "$cr" '^License: unspecified' "copyright: no unspecified licence"

spdx_files "$top" >"$T/files"
n=$(wc -l <"$T/files")
if [ "$n" -gt 100 ]; then ok "spdx: $n files checked"
else not_ok "spdx: only $n files listed (spdx_files broken?)"; fi
: >"$T/missing"
while IFS= read -r f; do
	head -n 5 "$top/$f" | grep -q 'SPDX-License-Identifier: Apache-2\.0' ||
		echo "$f" >>"$T/missing"
done <"$T/files"
if [ -s "$T/missing" ]; then
	not_ok "spdx: $(wc -l <"$T/missing") files without an SPDX line in their first 5 lines"
	sed 's/^/#   /' "$T/missing"
else ok "spdx: every source file and script names its licence"; fi

# The tool that adds them, on a copy of the tree: afterwards every file
# passes, scripts still start with their shebang and keep their mode, C
# still compiles, and a second run changes nothing.
mkdir "$T/copy"
(cd "$top" && tar cf - --exclude=./build --exclude=./.git --exclude=./upgr .) |
	(cd "$T/copy" && tar xf -)
check "spdx-add.sh on a copy" sh "$top/pkg/spdx-add.sh" "$T/copy"
: >"$T/still"
while IFS= read -r f; do
	head -n 5 "$T/copy/$f" | grep -q 'SPDX-License-Identifier: Apache-2\.0' ||
		echo "$f" >>"$T/still"
done <"$T/files"
if [ -s "$T/still" ]; then not_ok "spdx-add.sh: every file tagged"; sed 's/^/#   /' "$T/still"
else ok "spdx-add.sh: every file tagged"; fi
: >"$T/bad"
while IFS= read -r f; do
	if [ "$(head -c 2 "$top/$f")" = "#!" ]; then
		[ "$(head -n 1 "$top/$f")" = "$(head -n 1 "$T/copy/$f")" ] || echo "shebang: $f" >>"$T/bad"
	fi
	[ "$(stat -c %a "$top/$f")" = "$(stat -c %a "$T/copy/$f")" ] || echo "mode: $f" >>"$T/bad"
	# Nothing but the one added line.
	[ $(($(wc -l <"$T/copy/$f") - $(wc -l <"$top/$f"))) -le 1 ] || echo "lines: $f" >>"$T/bad"
done <"$T/files"
if [ -s "$T/bad" ]; then not_ok "spdx-add.sh: shebangs, modes and content kept"; sed 's/^/#   /' "$T/bad"
else ok "spdx-add.sh: shebangs, modes and content kept"; fi
for f in "$T"/copy/tests/lib/*.sh "$T"/copy/tests/cli/*.sh "$T"/copy/audit/verify; do
	sh -n "$f" 2>>"$T/syntax" || echo "$f" >>"$T/syntax"
done
if [ -s "$T/syntax" ]; then not_ok "spdx-add.sh: shell scripts still parse"; sed 's/^/#   /' "$T/syntax"
else ok "spdx-add.sh: shell scripts still parse"; fi
for f in "$T"/copy/tests/lib/*.py "$T"/copy/tests/bench/*.py; do
	[ -f "$f" ] || continue
	python3 -m py_compile "$f" 2>>"$T/pyerr" || echo "$f" >>"$T/pyerr"
done
if [ -s "$T/pyerr" ]; then not_ok "spdx-add.sh: python still compiles"; sed 's/^/#   /' "$T/pyerr"
else ok "spdx-add.sh: python still compiles"; fi
unset MAKEFLAGS MFLAGS MAKELEVEL
check "spdx-add.sh: the tagged tree builds (make -n, C syntax)" sh -c "
	make -s -C '$T/copy' -n >/dev/null &&
	for c in '$T'/copy/src/*.c '$T'/copy/src/cmd/*.c; do
		cc -std=c11 -fsyntax-only -D_XOPEN_SOURCE=700 -DUPGR_VERSION='\"0\"' -I'$T'/copy/src \$(pkg-config --cflags libcurl libarchive yaml-0.1 libgcrypt) \"\$c\" || exit 1
	done"
run sh "$top/pkg/spdx-add.sh" "$T/copy"
if [ ! -s "$T/out" ]; then ok "spdx-add.sh: a second run changes nothing"
else not_ok "spdx-add.sh: a second run changes nothing"; sed 's/^/#   /' "$T/out" | head; fi
