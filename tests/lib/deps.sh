#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages that building and testing upgr needs, only
# those that are missing, so a fresh Debian 12 machine needs nothing else.
set -eu
PKGS="build-essential pkg-config libcurl4-openssl-dev libarchive-dev libyaml-dev
libgcrypt20-dev libcmocka-dev vsftpd minisign python3 python3-jsonschema python3-yaml
libarchive-tools rsync curl openssl strace valgrind man-db groff-base procps chromium time
softhsm2 opensc
clang libclang-rt-14-dev openssh-server lintian systemd nginx-light rsyslog
prometheus"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run as root or install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# vsftpd, openssh-server, nginx-light and rsyslog are test tools here, started by the tests on
# ports of their own: keep their packages from starting system services on
# ports 21, 22 and 80 (policy-rc.d exit 101: "action forbidden").
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
