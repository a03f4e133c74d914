#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Print the DEBIAN/control file for the staged tree in $1.
#   sh pkg/deb/control.sh STAGE VERSION ARCH FALLBACK_DEPENDS
# Depends comes from the shared libraries the binary links (dpkg-shlibdeps,
# which wants a debian/control beside it, so we give it a throwaway one);
# when dpkg-shlibdeps is missing or fails, the fixed FALLBACK_DEPENDS is used.
set -eu
stage=$1 version=$2 arch=$3 fallback=$4
depends=""
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/debian"
	printf 'Source: upgr\n\nPackage: upgr\nArchitecture: any\n' >"$tmp/debian/control"
	bin=$(cd "$stage" && pwd)/usr/bin/upgr
	if out=$(cd "$tmp" && dpkg-shlibdeps -O "$bin" 2>/dev/null); then
		depends=$(printf '%s\n' "$out" | sed -n 's/^shlibs:Depends=//p')
	fi
fi
[ -n "$depends" ] || depends=$fallback
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat <<CONTROL
Package: upgr
Version: $version
Architecture: $arch
Maintainer: upgr developers <upgr@localhost>
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: declarative, manifest-driven software upgrader with a signed audit log
 upgr polls a version server (FTP, with failover between servers), verifies
 a release's Ed25519 signatures and SHA-256 hashes, and applies it as one
 transaction: everything slow is prepared before the service stops, a failed
 upgrade is rolled back automatically, and an interrupted one is recovered.
 Every run appends a signed, hash-chained, human-readable record to an audit
 log that is uploaded to the server.
 .
 The cron entry in /etc/cron.d/upgr is disabled until /etc/upgr/upgr.yaml is
 configured; see upgr(1), upgr.yaml(5) and /usr/share/doc/upgr/operator.md.
CONTROL
