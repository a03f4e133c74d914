# SPDX-License-Identifier: Apache-2.0
# A tiny release published with `upgr publish`, for tests that need a
# repository but not a particular release (packaging, server recipes).
#
#   tinyrel_publish UPGR REPO VERSION [PUBLISH-OPTION...]
#       build $T/tiny-VERSION (app hello: bin/hello, no commands) and
#       publish it to REPO (a URL) signed with $T/rel.key, made on first
#       use (public half $T/rel.pub). Returns publish's exit status.
: "${T:?source testlib.sh first}"

tinyrel_publish() {
	_up=$1 _repo=$2 _v=$3
	shift 3
	[ -s "$T/rel.key" ] || "$_up" keygen -W "$T/rel" >/dev/null || return 1
	_d=$T/tiny-$_v
	mkdir -p "$_d/bin"
	printf '#!/bin/sh\necho hello %s\n' "$_v" >"$_d/bin/hello"
	cat >"$_d/manifest.yaml" <<-EOF
	upgr: 1
	app: hello
	version: $_v
	target: /opt/hello
	files:
	  - path: bin/hello
	    mode: "0755"
	EOF
	"$_up" publish --repo "$_repo" --key "$T/rel.key" "$@" "$_d/manifest.yaml"
}
