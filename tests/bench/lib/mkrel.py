# SPDX-License-Identifier: Apache-2.0
"""Release trees and sealed releases for the benchmarks.

usage: mkrel.py tree DIR NFILES BYTES SEED [BASE CHANGE]
       mkrel.py seal DIR APP VERSION OUT [LEVEL]
       mkrel.py author DIR APP VERSION

tree: write NFILES files of incompressible bytes (BYTES in all) under
  DIR/data/dNNN/ (100 per directory), and DIR/bin/svc-ctl, the service's
  control script (it appends "stop|start NS" to $SVC_LOG). With BASE and
  CHANGE: DIR is a copy of the tree BASE where CHANGE files (evenly spread)
  get new bytes, the rest stay the same (CHANGE "all": every file).
seal: write OUT/manifest.yaml (every file's sha256, the payload block) and
  OUT/payload.tar.gz (sorted pax tar, gzip at LEVEL, default 1: the data is
  incompressible, so the level only costs time). Signing is the caller's.
author: write DIR/manifest.yaml, the authored manifest of DIR's files (what
  `upgr publish` takes).
"""
import hashlib
import os
import random
import shutil
import sys
import tarfile

CTL = """#!/bin/sh
# The benchmark service: records when it stops and starts (ns).
case "$1" in
stop|start) echo "$1 $(date +%s%N)" >>"${SVC_LOG:-/dev/null}" ;;
status) ;;
esac
"""


def files_of(nfiles):
    return ["data/d%03d/f%05d.bin" % (i // 100, i) for i in range(nfiles)]


def tree(d, nfiles, total, seed, base=None, change=None):
    rnd = random.Random(int(seed))
    size = max(1, total // nfiles)
    names = files_of(nfiles)
    if base:
        shutil.copytree(base, d, copy_function=shutil.copy2)
        k = nfiles if change == "all" else int(change)
        step = max(1, nfiles // max(k, 1))
        pick = names[::step][:k]
    else:
        pick = names
        os.makedirs(os.path.join(d, "bin"), exist_ok=True)
        with open(os.path.join(d, "bin", "svc-ctl"), "w") as f:
            f.write(CTL)
        os.chmod(os.path.join(d, "bin", "svc-ctl"), 0o755)
    for n in pick:
        p = os.path.join(d, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + ".tmp", "wb") as f:
            f.write(rnd.randbytes(size))
        os.replace(p + ".tmp", p)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_paths(d):
    return ["bin/svc-ctl"] + sorted(
        os.path.relpath(os.path.join(r, f), d)
        for r, _, fs in os.walk(os.path.join(d, "data")) for f in fs)


COMMANDS = ["stop:", "- bin/svc-ctl stop", "start:", "- bin/svc-ctl start",
            "health:", "- bin/svc-ctl status"]


def author(d, app, version):
    lines = ["upgr: 1", "app: %s" % app, "version: '%s'" % version,
             "target: /opt/%s" % app, "files:"]
    for p in tree_paths(d):
        mode = "0755" if p.startswith("bin/") else "0644"
        lines.append("- path: %s\n  mode: '%s'" % (p, mode))
    with open(os.path.join(d, "manifest.yaml"), "w") as f:
        f.write("\n".join(lines + COMMANDS) + "\n")


def seal(d, app, version, out, level=1):
    paths = tree_paths(d)
    os.makedirs(out, exist_ok=True)
    payload = os.path.join(out, "payload.tar.gz")
    lines = ["upgr: 1", "app: %s" % app, "version: '%s'" % version,
             "target: /opt/%s" % app, "files:"]
    with tarfile.open(payload, "w:gz", compresslevel=int(level),
                      format=tarfile.PAX_FORMAT) as tar:
        for p in sorted(paths):
            full = os.path.join(d, p)
            mode = "0755" if p.startswith("bin/") else "0644"
            lines.append("- path: %s\n  mode: '%s'\n  sha256: %s" % (p, mode, sha256(full)))
            info = tar.gettarinfo(full, arcname=p)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = int(mode, 8)
            with open(full, "rb") as f:
                tar.addfile(info, f)
    lines += COMMANDS + [
              "payload:", "  file: payload.tar.gz", "  sha256: %s" % sha256(payload),
              "  size: %d" % os.path.getsize(payload)]
    with open(os.path.join(out, "manifest.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    a = sys.argv[1:]
    if len(a) >= 5 and a[0] == "tree":
        tree(a[1], int(a[2]), int(a[3]), a[4], *(a[5:7] if len(a) >= 7 else []))
    elif len(a) >= 5 and a[0] == "seal":
        seal(*a[1:6])
    elif len(a) == 4 and a[0] == "author":
        author(*a[1:4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
