#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A simulated fleet's report tree for the console's tests and bench.

usage: fleetgen.py ROOT HOSTS [NOW] [PLAN_WAVE]

Writes ROOT/reports/host-NNNNN/status.yaml for HOSTS hosts, the channel
ROOT/apps/hello/channels/stable.yaml (version 1.1.0, rollout 50%) and,
with PLAN_WAVE, a rollout plan ROOT/apps/hello/rollout/stable.yaml at that
wave of 1,10,50,100. The mix, by host number i (1-based), in this order:
  i % 97 == 0   rolled back: health 'bin/hello-ctl status' exited 1
  i % 89 == 0   failed: the rollback failed too
  i % 83 == 0   stale (last report 3 days ago)
  i % 79 == 0   waiting for its group's lease (held when outside the rollout)
  i % 73 == 0   staged, outside its window Sat,Sun 01:00-05:00 Europe/Paris
                (held when outside the rollout, as the console says first)
  else          1.1.0 success when the 50% rollout includes the host,
                else 1.0.0 success (held)
Prints the expected count of each state, one "state count" a line.
"""
import hashlib
import os
import sys

root, n = sys.argv[1], int(sys.argv[2])
now = sys.argv[3] if len(sys.argv) > 3 else "2026-12-01T12:00:00.000Z"
wave = int(sys.argv[4]) if len(sys.argv) > 4 else 0
old = "2026-11-28T12:00:00.000Z"


def included(host, version, percent):
    d = hashlib.sha256(("%s/%s" % (host, version)).encode()).digest()
    return int.from_bytes(d[:4], "big") % 100 < percent


def app(version, result, error="", state="", waiting="", to="1.1.0", t=None):
    lines = ['  - app: "hello"', '    version: "%s"' % version,
             '    result: "%s"' % result, '    time: "%s"' % (t or now),
             '    action: "upgrade"', '    from: "1.0.0"', '    to: "%s"' % to,
             '    error: "%s"' % error]
    if state:
        lines += ['    state: "%s"' % state, '    waiting: "%s"' % waiting]
    return lines


count = {}
for i in range(1, n + 1):
    h = "host-%05d" % i
    reported = now
    if i % 97 == 0:
        st, a = "rolled-back", app("1.0.0", "rolled-back",
                                    "health 'bin/hello-ctl status' exited 1")
    elif i % 89 == 0:
        st, a = "failed", app("1.0.0", "failed", "rollback: start 'bin/hello-ctl start' exited 2")
    elif i % 83 == 0:
        st, a, reported = "stale", app("1.1.0", "success", t=old), old
    elif not included(h, "1.1.0", 50) and (i % 79 == 0 or i % 73 == 0):
        st, a = "held", app("1.0.0", "success", to="1.0.0")   # outside first
    elif i % 79 == 0:
        st, a = "waiting", app("1.0.0", "success", state="waiting",
                               waiting="group lease held by web-2 until 2026-12-01T03:30:00Z", to="1.0.0")
    elif i % 73 == 0:
        st, a = "staged", app("1.0.0", "success", state="staged",
                              waiting="outside the maintenance window Sat,Sun 01:00-05:00 Europe/Paris", to="1.0.0")
    elif included(h, "1.1.0", 50):
        st, a = "ok", app("1.1.0", "success")
    else:
        st, a = "held", app("1.0.0", "success", to="1.0.0")
    count[st] = count.get(st, 0) + 1
    d = os.path.join(root, "reports", h)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "status.yaml"), "w") as f:
        f.write("\n".join(['upgr: 1', 'host: "%s"' % h, 'time: "%s"' % reported, 'apps:'] + a)
                + "\n")
ch = os.path.join(root, "apps", "hello", "channels")
os.makedirs(ch, exist_ok=True)
with open(os.path.join(ch, "stable.yaml"), "w") as f:
    f.write("upgr: 1\napp: hello\nchannel: stable\nserial: 2\nversion: 1.1.0\n"
            "manifest: releases/1.1.0/manifest.yaml\nmanifest_sha256: %s\n"
            "published: 2026-11-20T00:00:00Z\nexpires: 2027-11-20T00:00:00Z\nrollout: 50\n"
            % ("ab" * 32))
if wave:
    rd = os.path.join(root, "apps", "hello", "rollout")
    os.makedirs(rd, exist_ok=True)
    with open(os.path.join(rd, "stable.yaml"), "w") as f:
        f.write("upgr: 1\ntype: rollout\napp: hello\nchannel: stable\nversion: \"1.1.0\"\n"
                "from: \"1.0.0\"\nwaves: [1, 10, 50, 100]\nwave: %d\nsoak: 1800\nmax_failed: 2\n"
                "state: running\nstarted: 2026-11-20T00:00:00Z\n"
                "wave_started: 2026-11-30T00:00:00Z\nreason: \"\"\n" % wave)
for k in sorted(count):
    print(k, count[k])
