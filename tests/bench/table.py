# SPDX-License-Identifier: Apache-2.0
"""The table of `make bench`: reads the measures the benchmarks recorded
(one "key value" a line), prints one table (what, upgr, peer, ratio,
target, PASS/MISS) and writes it to docs/PERFORMANCE.md with the command
that reproduces it, the machine it ran on and tests/bench/notes.md.

usage: table.py RESULTS OUT.md
Exits 1 if a target is missed or a measure is missing.
"""
import datetime
import os
import platform
import subprocess
import sys

MISSING = object()


def load(path):
    m = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            if k:
                m[k] = float(v)
    return m


def fmt_ms(v):
    return "%.0f ms" % v if v >= 10 else "%.1f ms" % v


def machine(scratch, m):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True,
                                  text=True).stdout.strip()
        except OSError:
            return "?"
    cpu = sh("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1")
    mem = sh("free -h | awk '/^Mem:/ { print $2 }'")
    df = sh("df -hT %s | awk 'NR == 2 { print $1 \", \" $2 \", \" $3 \" (\" $5 \" free)\" }'"
            % scratch)
    return [("CPUs (nproc)", "%s x %s" % (os.cpu_count(), cpu)),
            ("memory", mem),
            ("kernel", "%s %s" % (platform.system(), platform.release())),
            ("disk (scratch)", df),
            ("load average (1 min) as each part started (a shared machine)",
             ", ".join("%s %.2f" % (k[5:], v) for k, v in m.items()
                       if k.startswith("load_")) or "not recorded")]


def rows(m):
    """(what, upgr, peer, ratio, target, ok) per row; ok None = no target."""
    out = []

    def get(k):
        return m.get(k, MISSING)

    def row(what, u, p, ufmt, pfmt, target, test):
        if u is MISSING or p is MISSING:
            out.append((what, "missing", "missing", "", target, False))
            return
        ratio = u / p if p else float("inf")
        out.append((what, ufmt(u), pfmt(p), ("%.3f" if ratio < 0.1 else "%.2f") % ratio, target,
                    None if test is None else test(ratio)))

    for size, label in (("small", "1000 files, 64 MB"), ("large", "20,000 files, 200 MB")):
        u = get("apply_%s_upgr" % size)
        row("apply %s: vs patent script" % label, u, get("apply_%s_patent" % size),
            fmt_ms, lambda v: "script " + fmt_ms(v), "< 1", lambda r: r < 1)
        row("apply %s: vs rsync -a --delete" % label, u, get("apply_%s_rsync" % size),
            fmt_ms, lambda v: "rsync " + fmt_ms(v), "< 1", lambda r: r < 1)
        row("apply %s: vs limit (bsdtar -x + sha256sum)" % label, u,
            get("apply_%s_limit" % size), fmt_ms, lambda v: "limit " + fmt_ms(v),
            "<= 1.3", lambda r: r <= 1.3)
        row("apply %s: vs limit + sync -f (durable, as upgr)" % label, u,
            get("apply_%s_limit_sync" % size), fmt_ms,
            lambda v: "limit+sync " + fmt_ms(v), "<= 1.2", lambda r: r <= 1.2)
    for size, label in (("small", "1000 files"), ("large", "20,000 files")):
        u = get("down_%s_upgr" % size)
        row("downtime %s: vs patent script" % label, u, get("down_%s_patent" % size),
            fmt_ms, lambda v: "script " + fmt_ms(v), "<= 0.05 (20x)", lambda r: r <= 0.05)
        row("downtime %s: vs rsync between stop and start" % label, u,
            get("down_%s_rsync" % size), fmt_ms, lambda v: "rsync " + fmt_ms(v),
            "-", None)
    row("downtime, flat: 20,000 files / 200 MB vs 1000 / 64 MB", get("down_large_upgr"),
        get("down_small_upgr"), fmt_ms, lambda v: "small " + fmt_ms(v), "<= 1.5",
        lambda r: r <= 1.5)
    row("downtime, flat: 10 of 20,000 changed vs 1000 files", get("down_inc_upgr"),
        get("down_small_upgr"), fmt_ms, lambda v: "small " + fmt_ms(v), "<= 1.5",
        lambda r: r <= 1.5)
    row("apply 10 of 20,000 changed, from a file:// repository: vs rsync -a --delete",
        get("apply_inc_upgr"),
        get("apply_inc_rsync"), fmt_ms, lambda v: "rsync " + fmt_ms(v), "<= 1",
        lambda r: r <= 1)
    row("apply 10 of 20,000 changed, from a release directory with only the payload: vs rsync",
        get("apply_inc_upgr_payload"), get("apply_inc_rsync"), fmt_ms,
        lambda v: "rsync " + fmt_ms(v), "-", None)
    row("renames into the target, 10 of 20,000 changed", get("inc_renames_target"),
        get("inc_changed"), lambda v: "%d renames" % v, lambda v: "%d changed" % v,
        "= 1", lambda r: r == 1)
    row("fetch 10 of 20,000 changed: bytes on the wire vs 1.2 x changed objects + metadata",
        get("fetch_inc_wire"), get("fetch_inc_budget"), lambda v: "{:,.0f} B".format(v),
        lambda v: "budget {:,.0f} B".format(v), "<= 1", lambda r: r <= 1)
    row("fetch 10 of 20,000 changed: bytes on the wire vs the whole payload (before)",
        get("fetch_inc_wire"), get("fetch_inc_payload"), lambda v: "{:,.0f} B".format(v),
        lambda v: "payload {:,.0f} B".format(v), "-", None)
    row("upgrade 10 of 20,000 changed, the agent over FTP (objects, quick check): vs rsync -a --delete",
        get("fetch_inc_ms"), get("fetch_inc_rsync"), fmt_ms, lambda v: "rsync " + fmt_ms(v),
        "<= 1", lambda r: r <= 1)
    row("first install over FTP, 20,000 files: objects published vs none (before)",
        get("fetch_first_new"), get("fetch_first_old"), fmt_ms,
        lambda v: "before " + fmt_ms(v), "<= 1.1", lambda r: r <= 1.1)
    row("first install over FTP, 20,000 files: CPU time (user + system), same",
        get("fetch_first_cpu_new"), get("fetch_first_cpu_old"), fmt_ms,
        lambda v: "before " + fmt_ms(v), "-", None)
    files = get("stage_files")
    row("first install, %s small files: one syncfs vs an fsync per staged file"
        % ("?" if files is MISSING else "{:,}".format(int(files))), get("stage_syncfs"),
        get("stage_fsync"), fmt_ms, lambda v: "fsync each " + fmt_ms(v), "-", None)
    row("no-op cron tick: vs curl (channel + .minisig)", get("tick_upgr"),
        get("tick_curl"), fmt_ms, lambda v: "curl " + fmt_ms(v), "<= 1.5",
        lambda r: r <= 1.5)
    row("no-op cron tick of a 20,000-file app (fetch.sh) vs a 10-file app's",
        get("fetch_idle_ms"), get("tick_upgr"), fmt_ms, lambda v: "10 files " + fmt_ms(v),
        "<= 1.5", lambda r: r <= 1.5)
    row("no-op cron tick: trust_root vs trusted_keys", get("tick_root"),
        get("tick_upgr"), fmt_ms, lambda v: "keys " + fmt_ms(v), "<= 1.1",
        lambda r: r <= 1.1)
    hosts, ok = get("fleet_hosts"), get("fleet_ok")
    par = get("fleet_par")
    fleet = get("fleet_ms")
    if fleet is not MISSING and hosts is not MISSING and ok is not MISSING and ok < hosts:
        fleet = float("inf")      # not all upgraded and reported: a miss
    row("%s hosts, one vsftpd, %s at once: all upgraded + reported"
        % ("?" if hosts is MISSING else "%d" % hosts, "?" if par is MISSING else "%d" % par),
        fleet, 60000.0, lambda v: "%.1f s" % (v / 1000), lambda v: "target %.0f s" % (v / 1000),
        "< 1", lambda r: r < 1)
    hosts = get("console_hosts")
    nh = "?" if hosts is MISSING else "{:,}".format(int(hosts))
    row("fleet status, %s hosts' reports over FTP, first run (4 connections): vs curl "
        "(list + fetch, one connection)" % nh, get("console_upgr"), get("console_curl"),
        fmt_ms, lambda v: "curl " + fmt_ms(v), "<= 1.5", lambda r: r <= 1.5)
    row("fleet status, %s hosts, second run (cache: SIZE + MDTM, nothing fetched): vs curl"
        % nh, get("console_upgr_cached"), get("console_curl"),
        fmt_ms, lambda v: "curl " + fmt_ms(v), "< 1", lambda r: r < 1)
    rows = get("console_wide_rows")
    row("fleet status --json, %s rows (200 hosts x 256 apps, file://)"
        % ("?" if rows is MISSING else "%d" % rows), get("console_wide_upgr"), 2000.0,
        fmt_ms, lambda v: "target " + fmt_ms(v), "< 1", lambda r: r < 1)
    row("fleet status: FTP logins for the whole fleet (4 connections + the listing)",
        get("console_logins"), 5.0,
        lambda v: "%d login%s" % (v, "" if v == 1 else "s"), lambda v: "target <= 5", "<= 1",
        lambda r: r <= 1)
    big = get("console_big_hosts")
    nb = "?" if big is MISSING else "{:,}".format(int(big))
    row("fleet status --problems, %s hosts' report tree (file://): time" % nb,
        get("console_big_ms"), 10000.0, fmt_ms, lambda v: "target " + fmt_ms(v), "< 1",
        lambda r: r < 1)
    row("fleet status --problems, %s hosts' report tree: peak RSS" % nb,
        get("console_big_kb"), 512 * 1024.0, lambda v: "%.1f MB" % (v / 1024),
        lambda v: "target %.0f MB" % (v / 1024), "< 1", lambda r: r < 1)
    row("peak RSS, upgr apply of a 1 GB payload", get("mem_big_kb"), 32768.0,
        lambda v: "%.1f MB" % (v / 1024), lambda v: "target %.0f MB" % (v / 1024),
        "< 1", lambda r: r < 1)
    row("peak RSS, 1 GB vs 64 MB payload", get("mem_big_kb"), get("mem_small_kb"),
        lambda v: "%.1f MB" % (v / 1024), lambda v: "64 MB: %.1f MB" % (v / 1024),
        "-", None)
    recs, t = get("audit_records"), get("audit_ms")
    rate = MISSING if recs is MISSING or t is MISSING else recs / max(t, 1) * 1000
    row("audit verify, %s records: records/s" % ("?" if recs is MISSING else "{:,}".format(int(recs))),
        rate, 20000.0, lambda v: "{:,.0f}/s".format(v), lambda v: "target {:,.0f}/s".format(v),
        ">= 1", lambda r: r >= 1)
    files = get("parse_files")
    nf = "?" if files is MISSING else "{:,}".format(int(files))
    row("parse a %s-file manifest (ydoc_parse + manifest_parse): vs libyaml's event loop" % nf,
        get("parse_manifest_upgr"), get("parse_manifest_libyaml"), fmt_ms,
        lambda v: "libyaml " + fmt_ms(v), "<= 2", lambda r: r <= 2)
    row("parse its objects index (objects_index_parse): vs libyaml's event loop",
        get("parse_objects_upgr"), get("parse_objects_libyaml"), fmt_ms,
        lambda v: "libyaml " + fmt_ms(v), "<= 2", lambda r: r <= 2)
    row("read its quick check record (quickcheck_load): vs splitting it into fields",
        get("parse_qc_upgr"), get("parse_qc_lines"), fmt_ms,
        lambda v: "split " + fmt_ms(v), "-", None)
    sim = get("sim_ms")
    if sim is not MISSING:
        out.append(("fleetsim example: %d hosts, %d servers, 1 MB payload" % (
            get("sim_hosts"), get("sim_servers")), "%.1f s" % (sim / 1000),
            "%d connections" % get("sim_conns"), "", "-", None))
    return out


def render(rs):
    head = ("what", "upgr", "peer", "upgr/peer", "target", "result")
    cells = [head] + [(w, u, p, r, t, "-" if ok is None else "PASS" if ok else "MISS")
                      for w, u, p, r, t, ok in rs]
    wid = [max(len(c[i]) for c in cells) for i in range(len(head))]
    text = []
    for n, c in enumerate(cells):
        text.append("  ".join(c[i].ljust(wid[i]) for i in range(len(head))).rstrip())
        if n == 0:
            text.append("  ".join("-" * wid[i] for i in range(len(head))))
    md = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    md += ["| " + " | ".join(c) + " |" for c in cells[1:]]
    return "\n".join(text), "\n".join(md)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    m = load(sys.argv[1])
    rs = rows(m)
    text, md = render(rs)
    print(text)
    missed = [r[0] for r in rs if r[5] is False]
    here = os.path.dirname(os.path.abspath(__file__))
    notes = ""
    if os.path.exists(os.path.join(here, "notes.md")):
        with open(os.path.join(here, "notes.md")) as f:
            notes = f.read()
    now = datetime.datetime.fromtimestamp(os.path.getmtime(sys.argv[1]),
                                          datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mach = machine(os.environ.get("BENCH_TMP") or os.environ.get("TMPDIR") or "/tmp", m)
    doc = ["# Performance", "",
           "Measured with `make bench` (tests/bench/run), %s. Every row compares figures "
           "measured in the same run on the same data; a time is the best of 3 runs "
           "(the methods interleaved). Ratio = upgr's figure / the peer's." % now, "",
           "## Machine", ""]
    doc += ["- %s: %s" % kv for kv in mach]
    doc += ["", "## Results", "", md, ""]
    if notes:
        doc += [notes.rstrip(), ""]
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(doc))
    print("%d of %d targets missed%s; written to %s" % (
        len(missed), sum(1 for r in rs if r[5] is not None),
        (": " + "; ".join(missed)) if missed else "", sys.argv[2]))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
