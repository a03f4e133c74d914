# SPDX-License-Identifier: Apache-2.0
# Bash completion (completion/upgr.bash): commands, options read from the
# binary's --help, application names from the configuration, files.
. "$(dirname "$0")/../lib/testlib.sh"

if ! command -v bash >/dev/null 2>&1; then
	ok "# SKIP bash is not installed"
	exit 0
fi

# complete WORD...: what completing the last WORD offers, space separated.
complete_line() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
		COMPREPLY=(); _upgr
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
	' complete "$UPGR_TOP/completion/upgr.bash" "$UPGR" "$@" >"$T/comp" 2>"$T/comp.err"
}

# offers NAME REGEX WORD...: completing WORD... offers something matching REGEX.
offers() {
	name=$1 re=$2; shift 2
	complete_line "$@"
	if grep -Eq -- "$re" "$T/comp" && [ ! -s "$T/comp.err" ]; then ok "$name"; else
		not_ok "$name: got '$(cat "$T/comp")'"
		sed 's/^/#   /' "$T/comp.err" | head -5
	fi
}

check "completion script is valid bash" bash -n "$UPGR_TOP/completion/upgr.bash"

offers "commands" '(^| )apply .*rollback .*validate ' ""
offers "a command by prefix" '^rollback $' rollb
offers "audit's subcommands" '^show verify $' audit ""
offers "fleet's subcommands" '^status verify $' fleet ""
offers "rollout's subcommands" '^abort pause resume start status tick $' rollout ""
offers "rollout start's options" '--max-failed .*--soak .*--waves' rollout start --

printf 'servers: [file:///tmp]\napps: [hello, "world"]\n' >"$T/flow.yaml"
printf 'servers: [file:///tmp]\napps:\n  - alpha   # first\n\n  - beta\nroot: /\n' >"$T/block.yaml"
offers "app names from -c (flow list)" '^hello world $' rollback -c "$T/flow.yaml" ""
offers "app names from -c (block list), -c before the command" '^alpha beta $' \
	-c "$T/block.yaml" rollback ""
offers "app names by prefix" '^beta $' rollback --config "$T/block.yaml" b

# Options: each command's, from its --help when it is built.
offers "run's options" '--dry-run .*--splay' -
offers "apply's options" '--dry-run .*--json .*--root' apply -
offers "publish's options" '--not-before .*--rollout' publish --
offers "audit verify's options" '-p' audit verify -
offers "sign's options" '(^| )-k ' sign -

# Files where a file is expected.
mkdir "$T/files" && : >"$T/files/conf.yaml" && mkdir "$T/files/rel"
offers "a file after -c" "files/conf\\.yaml" -c "$T/files/co"
offers "a directory after --root" "files/rel" apply --root "$T/files/r"
offers "a release directory for apply" "files/rel" apply "$T/files/r"
offers "publish -f completes a directory" "files/rel" publish -f "$T/files/r"
complete_line publish --channel ""
if [ ! -s "$T/comp" ] || [ "$(cat "$T/comp")" = " " ]; then ok "publish --channel offers no file"
else not_ok "publish --channel offers no file: got '$(cat "$T/comp")'"; fi
offers "fleet status options" '--html .*--json' fleet status --
offers "a directory after fleet verify --keys" "files/rel" fleet verify --keys "$T/files/r"
