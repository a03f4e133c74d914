# SPDX-License-Identifier: Apache-2.0
# spdx_files TOP: print, one per line and relative to TOP, every source
# file and script that must carry an SPDX-License-Identifier line in its
# first 5 lines: src/*.[ch], src/cmd/*.[ch], the Makefile, .ci/run, the bash completion,
# and under tests/, audit/, examples/, pkg/ and docs/server/ every *.sh, *.py and *.c
# and every file that starts with "#!". Test data (corpora, manifests,
# examples' YAML) is not a source file and is not listed.
# Sourced by tests/cli/license.sh (the check) and pkg/spdx-add.sh (the fix).
spdx_files() {
	(
		cd "$1" || exit 1
		for f in src/*.c src/*.h src/cmd/*.c src/cmd/*.h Makefile .ci/run completion/*.bash; do
			[ -f "$f" ] && echo "$f"
		done
		find tests audit examples pkg docs/server -type f 2>/dev/null | LC_ALL=C sort |
		while IFS= read -r f; do
			case $f in
			*.sh | *.py | *.c) echo "$f" ;;
			*) [ "$(head -c 2 "$f")" = "#!" ] && echo "$f" ;;
			esac
		done
	)
}
