# SPDX-License-Identifier: Apache-2.0
"""Seal an authored manifest into a release directory for tests.

usage: seal.py MANIFEST SRCDIR OUTDIR

An implementation independent of `upgr publish` (Python's tarfile and
hashlib), so the transaction's tests do not depend on publish, and so tests
can build releases that publish would refuse. Writes OUTDIR/manifest.yaml
(with every file's sha256 and the payload block) and OUTDIR/payload.tar.gz.
Signing is done by the caller (tests/lib/release.sh) with minisign.
"""
import hashlib
import io
import os
import sys
import tarfile

import yaml


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    manifest, src, out = sys.argv[1:4]
    with open(manifest) as f:
        m = yaml.safe_load(f)
    os.makedirs(out, exist_ok=True)
    payload = os.path.join(out, "payload.tar.gz")
    with tarfile.open(payload, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(m["files"], key=lambda e: e["path"]):
            path = os.path.join(src, entry["path"])
            entry["sha256"] = sha256(path)
            info = tar.gettarinfo(path, arcname=entry["path"])
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = int(entry.get("mode", "0644"), 8)
            with open(path, "rb") as f:
                tar.addfile(info, f)
    m["payload"] = {"file": "payload.tar.gz", "sha256": sha256(payload),
                    "size": os.path.getsize(payload)}
    with open(os.path.join(out, "manifest.yaml"), "w") as f:
        yaml.safe_dump(m, f, sort_keys=False, default_flow_style=False)


if __name__ == "__main__":
    main()
