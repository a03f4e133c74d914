# SPDX-License-Identifier: Apache-2.0
# bash completion for upgr(1). Installed as
# $(PREFIX)/share/bash-completion/completions/upgr.
#
# Options are read from `upgr COMMAND --help`, so they always match the
# installed binary; a built-in list covers a binary that cannot be run.
# Application names come from the `apps:` of the configuration named by -c
# on the command line, or /etc/upgr/upgr.yaml.

_upgr_commands="run apply validate publish status rollback hold unhold recover keygen sign verify audit fleet trust approve rollout"

# _upgr_static_opts CMD: the options from the design, used as a fallback.
_upgr_static_opts()
{
	case $1 in
	run | '') echo "-c --root --dry-run --json --diff --splay --help" ;;
	apply) echo "-c --root --dry-run --json --help" ;;
	validate) echo "--help" ;;
	publish) echo "--repo --key --passphrase-file --channel-key --root --channel --from --expires --not-before --rollout --downgrade --trusted-key --state-dir --help" ;;
	approve) echo "-k --passphrase-file --repo --netrc --root --channel --against --yes --help" ;;
	status) echo "-c --json --help" ;;
	rollback | recover | hold | unhold) echo "-c --help" ;;
	keygen) echo "-W --passphrase-file --pkcs11 --help" ;;
	sign) echo "-k --passphrase-file --trusted-comment --help" ;;
	verify) echo "-p --help" ;;
	audit\ show) echo "--json --help" ;;
	audit\ verify) echo "-p --help" ;;
	fleet\ status) echo "--repo --json --html --help" ;;
	fleet\ verify) echo "--repo --keys --help" ;;
	trust\ sign) echo "-k --passphrase-file --help" ;;
	trust\ publish) echo "--repo --netrc --help" ;;
	trust\ show) echo "--json --repo --netrc --help" ;;
	rollout\ *) echo "--repo --key --passphrase-file --channel --netrc --waves --soak --max-failed --trusted-key --keys --expires --json --state-dir --help" ;;
	*) echo "--help" ;;
	esac
}

# _upgr_opts BIN CMD...: the options CMD's --help prints, else the fallback.
_upgr_opts()
{
	local bin=$1 opts
	shift
	opts=$("$bin" "$@" --help 2>/dev/null |
		grep -E -- '^(usage:|[[:space:]]+upgr |[[:space:]]*-)' |
		grep -oE -- '(^|[][ ,|(])--?[a-zA-Z][a-zA-Z0-9-]*' |
		sed 's/^[][ ,|(]*//' | sort -u)
	if [ -z "$opts" ]; then
		opts=$(_upgr_static_opts "$*")
	fi
	echo "$opts"
}

# _upgr_apps CONFIG: the names listed under apps:, flow or block style.
_upgr_apps()
{
	local conf=$1
	[ -r "$conf" ] || return 0
	sed -n '
		/^apps:[[:space:]]*\[/ {
			s/^apps:[[:space:]]*\[//; s/\].*//; s/[",'"'"']/ /g; p; q
		}
		/^apps:[[:space:]]*\(#.*\)\{0,1\}$/ {
			:item
			n
			/^[[:space:]]*-[[:space:]]*/ {
				s/^[[:space:]]*-[[:space:]]*//; s/[[:space:]]*#.*//; s/["'"'"']//g; p
				b item
			}
			/^[[:space:]]*\(#.*\)\{0,1\}$/ b item
			q
		}' "$conf"
}

_upgr()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local bin=${words[0]} cmd="" sub="" conf=/etc/upgr/upgr.yaml i w
	# Find the subcommand (and audit/fleet's second word) and any -c FILE.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-c | --config) conf=${words[i + 1]/#\~/$HOME}; i=$((i + 1)) ;;
		--config=*) conf=${w#--config=} ;;
		-k | --key | -P | --passphrase-file | --pkcs11 | -p | --pub | --pubkey | -x | --sig | -t | --trusted-comment | \
			--html | --root | --from | --keys | --splay | --repo | --channel | \
			--expires | --not-before | --rollout | --against | --checkpoint | \
			--netrc | -N | -r | --app | --since | --stale | --hosts | --cacert | -C | \
			--ssh-key | -S | --known-hosts | -K | --channel-key | --waves | --soak | \
			--max-failed | --trusted-key | --state-dir) i=$((i + 1)) ;;
		-*) ;;
		*)
			if [ -z "$cmd" ] && [[ " $_upgr_commands " == *" $w "* ]]; then
				cmd=$w
			elif [ -z "$sub" ] && { [ "$cmd" = audit ] || [ "$cmd" = fleet ] || [ "$cmd" = trust ] || [ "$cmd" = rollout ]; }; then
				sub=$w
			fi
			;;
		esac
	done

	# The argument of an option. A short option means the same in every
	# command (upgr(1)); --root is a trust root file for publish and approve.
	if [ "$cmd" = publish ] || [ "$cmd" = approve ]; then
		case $prev in
		-f | --from | -s | --state-dir) _upgr_dirs "$cur"; return ;;
		-a | --channel-key) _upgr_files "$cur"; return ;;
		-R | --root) _upgr_files "$cur" '@(yaml|yml)'; return ;;
		--trusted-key) _upgr_files "$cur" pub; return ;;
		-e | --expires | -o | --rollout | --against) return ;;
		esac
	fi
	case $prev in
	-c | --config | -k | --key | -P | --passphrase-file | --html | -x | --sig | --checkpoint | --netrc | -N | --hosts | \
		--cacert | -C | --ssh-key | -S | --known-hosts | -K)
		_upgr_files "$cur"
		return
		;;
	-p | --pub | --pubkey)
		_upgr_files "$cur" pub
		return
		;;
	--root | --from | --keys | --against)
		_upgr_dirs "$cur"
		return
		;;
	--splay | -r | --repo | --channel | --expires | --not-before | --rollout | \
		-t | --trusted-comment | --since | --stale)
		return
		;;
	--app)
		COMPREPLY=($(compgen -W "$(_upgr_apps "$conf")" -- "$cur"))
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		if [ -z "$cmd" ]; then
			COMPREPLY=($(compgen -W "$(_upgr_opts "$bin" run) --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_upgr_opts "$bin" $cmd $sub)" -- "$cur"))
		fi
		return
	fi

	case $cmd in
	'') COMPREPLY=($(compgen -W "$_upgr_commands" -- "$cur")) ;;
	audit) if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "show verify" -- "$cur"))
		else
			_upgr_files "$cur"
		fi ;;
	fleet) [ -z "$sub" ] && COMPREPLY=($(compgen -W "status verify" -- "$cur")) ;;
	rollout) [ -z "$sub" ] && COMPREPLY=($(compgen -W "start tick status pause resume abort" -- "$cur")) ;;
	trust) if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "sign publish show" -- "$cur"))
		else
			_upgr_files "$cur" '@(yaml|yml)'
		fi ;;
	rollback | hold | unhold) COMPREPLY=($(compgen -W "$(_upgr_apps "$conf")" -- "$cur")) ;;
	apply) _upgr_dirs "$cur" ;;
	validate | publish) _upgr_files "$cur" '@(yaml|yml)' ;;
	sign | verify) _upgr_files "$cur" ;;
	keygen | run | status | recover | approve) ;;
	esac
}

# _upgr_files CUR [EXT]: complete file names (EXT: a _filedir extension
# pattern, honoured when bash-completion is loaded; directories always).
_upgr_files()
{
	if declare -F _filedir >/dev/null 2>&1; then
		_filedir ${2:+"$2"}
		return
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -f -- "$1"))
}

_upgr_dirs()
{
	if declare -F _filedir >/dev/null 2>&1; then
		_filedir -d
		return
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -d -- "$1"))
}

complete -F _upgr upgr
