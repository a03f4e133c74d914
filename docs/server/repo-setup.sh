#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# repo-setup.sh REPO [HOST...]: create or repair an upgr repository for the
# FTP and SFTP recipes of docs/server.md, and enrol hosts. Run as root; run
# it again for every new host (it changes nothing that is already right).
#
# Accounts (system users, shell nologin, home REPO, no password until you
# set one with chpasswd; for SFTP, a key in the AuthorizedKeysFile):
#   upgr-publish   group upgr-ftp              the release author
#   upgr-read      groups upgr-ftp, upgr-read  readers: console, auditors
#   upgr-h-HOST    group upgr-ftp              one per HOST
# (upgr-ftp is every account's primary group.)
# Only group upgr-ftp may log in (upgr-ftp.pam, sshd_config's Match).
#
# Owners and modes, which decide who writes what:
#   REPO                root:root               0755  a chroot its users cannot write
#   REPO/apps           upgr-publish:upgr-ftp   0755  releases: the publisher writes
#   REPO/reports        root:upgr-read          0751  hosts pass through, readers list
#   REPO/reports/HOST   upgr-h-HOST:upgr-read   2750  only HOST writes, readers read
set -eu
[ $# -ge 1 ] || { echo "usage: repo-setup.sh REPO [HOST...]" >&2; exit 2; }
repo=$1
shift

group() { getent group "$1" >/dev/null || groupadd --system "$1"; }

# account NAME [GROUPS]: the system user NAME, primary group upgr-ftp (and
# GROUPS), home REPO.
account() {
	if ! id "$1" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir "$repo" \
			--shell /usr/sbin/nologin --gid upgr-ftp ${2:+--groups "$2"} "$1"
	else
		usermod --home "$repo" --shell /usr/sbin/nologin --gid upgr-ftp \
			${2:+--append --groups "$2"} "$1"
	fi
}

group upgr-ftp
group upgr-read
account upgr-publish
account upgr-read upgr-read
install -d -o root -g root -m 0755 "$repo"
install -d -o upgr-publish -g upgr-ftp -m 0755 "$repo/apps"
install -d -o root -g upgr-read -m 0751 "$repo/reports"

for host; do
	# The names upgr accepts for a host, and at most 25 characters (a
	# user name has at most 32).
	case $host in
	"" | -* | .* | *[!a-z0-9._-]*) echo "repo-setup.sh: bad host name '$host'" >&2; exit 2 ;;
	esac
	[ ${#host} -le 25 ] || { echo "repo-setup.sh: host name too long: $host" >&2; exit 2; }
	account "upgr-h-$host"
	install -d -o "upgr-h-$host" -g upgr-read -m 2750 "$repo/reports/$host"
	chown -R "upgr-h-$host:upgr-read" "$repo/reports/$host"
done
