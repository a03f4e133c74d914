#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# pkg/spdx-add.sh [TOP]: add "SPDX-License-Identifier: Apache-2.0" to every
# file pkg/spdx-files.sh lists under TOP (default: this tree) that has no
# SPDX line in its first 5 lines, in the file's own comment syntax:
#   *.c, *.h            /* SPDX-License-Identifier: Apache-2.0 */ as line 1
#   a "#!" script       # SPDX-License-Identifier: Apache-2.0 after the shebang
#   anything else       # SPDX-License-Identifier: Apache-2.0 as line 1
#                       (*.sh sourced libraries, *.py, Makefile)
# The file is rewritten in place (same inode, so its mode and owner stay).
# Running it twice changes nothing the second time. Prints each file changed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "${1:-$here/..}" && pwd)
. "$here/spdx-files.sh"
tag="SPDX-License-Identifier: Apache-2.0"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

spdx_files "$top" | while IFS= read -r f; do
	p=$top/$f
	head -n 5 "$p" | grep -q 'SPDX-License-Identifier:' && continue
	case $f in
	*.c | *.h) { echo "/* $tag */"; cat "$p"; } >"$tmp" ;;
	*)
		if [ "$(head -c 2 "$p")" = "#!" ]; then
			{ head -n 1 "$p"; echo "# $tag"; tail -n +2 "$p"; } >"$tmp"
		else
			{ echo "# $tag"; cat "$p"; } >"$tmp"
		fi ;;
	esac
	cat "$tmp" >"$p"
	echo "$f"
done
