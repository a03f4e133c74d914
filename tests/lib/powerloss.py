# SPDX-License-Identifier: Apache-2.0
"""Power-loss states of a recorded upgr run, rebuilt and checked.

usage: powerloss.py explore [options] -- CMD...
       powerloss.py treesum DIR     (JSON {path: [mode, sha256]}, for --releases)

Runs CMD under `strace -f -yy -xx` (every syscall that changes a file or
makes one durable, with the data written), replays the main process's
calls on a model of the files below --host, and after each call rebuilds
the trees a power cut at that instant could leave. It writes each distinct
one into --host, runs `upgr recover`, and checks that the target holds
exactly the old release or exactly the new one (per-file SHA-256 and mode)
and that `upgr status`, the installed manifest and the audit log (verified,
its newest record other than a "repair" of a torn append) agree with it.
One TAP line per state checked.

The persistence model (conservative, after the abstract model of the ALICE
study, Pillai et al., OSDI 2014; a file system that holds back what it may):
  - What existed before CMD is durable.
  - A file's data, size and mode become durable at fsync or fdatasync of
    it, or at syncfs of its file system (sync: of all). Data written but
    not made durable is lost: the file has its last durable contents (a
    file created since has none, 0 bytes).
  - A directory's entries (create, mkdir, link, unlink, rmdir, rename in
    or out) become durable at fsync of that directory or syncfs of its file
    system; until then each is undone. fsync of a file does not make its
    name durable. A rename between two directories is one operation: it is
    durable (both halves) once the directory it renames into is fsynced;
    until then the file is still under its old name.
  - syncfs on a device given with --syncfs-noop flushes nothing (FUSE and
    other file systems whose syncfs is not honoured).
  - Mount points are per-device: a file belongs to the file system of the
    directory it was made in.
Names are resolved as the kernel does, on the model: a directory fd
(openat, mkdirat, linkat, renameat(2), unlinkat with AT_REMOVEDIR,
fchmodat, syncfs) stands for the inode it was opened on, so a held fd
still works after its directory was renamed or removed; /proc/self/fd/N
and paths below it start at fd N. What the model does not know
(O_TMPFILE, linkat AT_EMPTY_PATH, RENAME_WHITEOUT, "..", a symlink on
the way, an fd not opened in the trace) stops the run as a model error.
A renameat2 RENAME_EXCHANGE is one operation on two directories: both
halves become durable together, once each of the two directories has
been fsynced since (or its file system synced); until then both are
undone.
For each crash point (after each call that changes the modelled tree, and
after CMD exits) these states are rebuilt:
  lost      only what was made durable (the rule above);
  metadata  every name operation so far kept, in order (a file system
            that commits metadata in order), file data only as durable;
  torn      as lost, but each file appended to since its last durable
            point keeps the first half of the bytes appended;
  data      as lost, but every file keeps all its data written so far.
Identical trees are checked once. When there are more than --max-states
distinct ones, an evenly spaced deterministic sample (always with the
last) is checked; the summary line says how many of how many.

When the rebuilt state holds a journal (a transaction was in flight),
recovery must also add its record to the audit log (invariant 6 of
src/txn.c).
Failures are classified (tree, status, manifest, audit-verify,
audit-record, journal, recover, rollback-after). --known-gap SCENARIO:CLASS
prints a failure whose classes are all known gaps as a "# known gap" line,
counted neither as ok nor as not ok (SCENARIO may be LABEL or
LABEL/VARIANT); an entry for this run that matched nothing is named in a
"# known gap ... was not seen" line, so that a fixed gap is noticed.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys

TRACED = ("open,openat,creat,close,dup,dup2,dup3,fcntl,write,pwrite64,writev,"
          "pwritev,pwritev2,lseek,ftruncate,truncate,rename,renameat,renameat2,"
          "link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir,fsync,fdatasync,"
          "syncfs,sync,fchmod,fchmodat,chmod,chdir,fchdir,symlink,symlinkat,"
          "sendfile,copy_file_range,fallocate,umask,mknod,mknodat")


class ModelError(Exception):
    pass


# ---- strace lines ----------------------------------------------------------

def unhex(s):
    return bytes(int(m, 16) for m in re.findall(r'\\x([0-9a-f]{2})', s))


def split_args(s):
    """Top-level comma-separated arguments of a strace call."""
    out, depth, cur, inq, i = [], 0, [], False, 0
    while i < len(s):
        c = s[i]
        if inq:
            cur.append(c)
            if c == '\\':
                cur.append(s[i + 1])
                i += 1
            elif c == '"':
                inq = False
        elif c == '"':
            inq = True
            cur.append(c)
        elif c in '([{<':
            depth += 1
            cur.append(c)
        elif c in ')]}>':
            depth -= 1
            cur.append(c)
        elif c == ',' and depth == 0:
            out.append(''.join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur or out:
        out.append(''.join(cur).strip())
    return out


LINE = re.compile(r'^(\d+) +(\w+)\((.*)\) += (-?\d+|0x[0-9a-f]+|\?)(.*)$')


def read_trace(path):
    """(pid, name, args, ret) per finished call, unfinished ones joined."""
    pending = {}
    calls = []
    with open(path, encoding='latin-1') as f:
        for raw in f:
            line = raw.rstrip('\n')
            m = re.match(r'^(\d+) +(.*) <unfinished \.\.\.>$', line)
            if m:
                pending[m.group(1)] = m.group(2)
                continue
            m = re.match(r'^(\d+) +<\.\.\. \w+ resumed>(.*)$', line)
            if m:
                line = m.group(1) + ' ' + pending.pop(m.group(1), '') + m.group(2)
            m = LINE.match(line)
            if not m:
                continue
            ret = m.group(4)
            # strace prints some results in octal (umask(077) = 022).
            ret = None if ret == '?' else int(ret, 8) if re.match(r'^0\d+$', ret) else int(ret, 0)
            calls.append((int(m.group(1)), m.group(2), split_args(m.group(3)), ret, line))
    return calls


def arg_fd(a):
    """(fd number or 'cwd', annotated path or None)."""
    m = re.match(r'^(AT_FDCWD|-?\d+)(?:<(.*)>)?$', a)
    if not m:
        raise ModelError('not an fd: %r' % a[:80])
    fd = 'cwd' if m.group(1) == 'AT_FDCWD' else int(m.group(1))
    return fd, unhex(m.group(2)) if m.group(2) is not None else None


def arg_str(a):
    if a.endswith('...'):
        raise ModelError('a string strace cut short: raise -s')
    if not (a.startswith('"') and a.endswith('"')):
        raise ModelError('not a string: %r' % a[:80])
    return unhex(a[1:-1])


def arg_flags(a):
    return set(a.split('|'))


def arg_int(a):
    return int(a, 0) if not a.startswith('0') or a == '0' else int(a, 8)


# ---- the model -------------------------------------------------------------

class Inode:
    __slots__ = ('id', 'kind', 'dev', 'data', 'ddata', 'mode', 'dmode',
                 'entries', 'dentries', 'link', 'pending_from')

    def __init__(self, iid, kind, dev, mode):
        self.id, self.kind, self.dev = iid, kind, dev
        self.mode = self.dmode = mode
        self.data = bytearray()
        self.ddata = b''
        self.entries = {} if kind == 'd' else None
        self.dentries = {} if kind == 'd' else None
        self.link = None


class OFD:
    __slots__ = ('ino', 'off', 'append', 'path')

    def __init__(self, ino, append, path):
        self.ino, self.off, self.append, self.path = ino, 0, append, path


class Model:
    def __init__(self, host, noop_devs):
        self.host = os.path.realpath(host).encode()
        self.inodes = []
        self.noop = set(noop_devs)
        self.pending = []          # cross-directory renames: (src, name, ino, dst)
        self.xpending = []         # exchanges: [dir a, name a, ino now at a (was b's),
                                   #             dir b, name b, ino now at b, synced dirs]
        self.umask = os.umask(0o022)     # the run inherits ours
        os.umask(self.umask)
        self.root = self.snapshot(self.host)

    def new(self, kind, dev, mode):
        ino = Inode(len(self.inodes), kind, dev, mode)
        self.inodes.append(ino)
        return ino

    def snapshot(self, path):
        seen = {}

        def walk(p):
            st = os.lstat(p)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                return seen[key]
            if stat.S_ISDIR(st.st_mode):
                ino = self.new('d', st.st_dev, stat.S_IMODE(st.st_mode))
                seen[key] = ino
                for name in sorted(os.listdir(p)):
                    ino.entries[name] = walk(os.path.join(p, name))
                ino.dentries = dict(ino.entries)
            elif stat.S_ISREG(st.st_mode):
                ino = self.new('f', st.st_dev, stat.S_IMODE(st.st_mode))
                with open(p, 'rb') as f:
                    ino.data = bytearray(f.read())
                ino.ddata = bytes(ino.data)
            elif stat.S_ISLNK(st.st_mode):
                ino = self.new('l', st.st_dev, 0o777)
                ino.link = os.readlink(p)
            else:
                raise ModelError('%s: not a file, directory or symlink' % p)
            seen[key] = ino
            return ino
        return walk(path)

    # -- names --
    def walk_from(self, ino, rel):
        """The inode at rel below directory ino (None if missing)."""
        for comp in [c for c in rel.split(b'/') if c and c != b'.']:
            if ino is None or ino.kind != 'd':
                return None
            if comp == b'..':
                raise ModelError('.. in a path below the host')
            ino = ino.entries.get(comp)
            if ino is not None and ino.kind == 'l':
                raise ModelError('a symlink on the way: %r' % rel)
        return ino

    def tracked(self, path):
        return path == self.host or path.startswith(self.host + b'/')

    def split(self, path):
        """(parent inode, last name) of an absolute path below the host."""
        rel = path[len(self.host):].strip(b'/')
        if not rel:
            raise ModelError('an operation on the host directory itself')
        head, _, name = rel.rpartition(b'/')
        parent = self.walk_from(self.root, head)
        if parent is None or parent.kind != 'd':
            raise ModelError('no parent for %r' % path)
        return parent, name

    # -- durability --
    def sync_exchanges(self, ino):
        """After directory ino's entries became durable: an exchange
        whose other directory is not yet synced is undone in ino's
        durable entries; one whose both are is durable in both."""
        keep = []
        for x in self.xpending:
            a, an, ai, b, bn, bi, synced = x
            if ino is a or ino is b:
                synced.add(id(ino))
            done = id(a) in synced and id(b) in synced
            for (d, n, now, was) in ((a, an, ai, bi), (b, bn, bi, ai)):
                if done and d.dentries.get(n) is was:
                    d.dentries[n] = now
                elif not done and d is ino and d.dentries.get(n) is now:
                    d.dentries[n] = was
            if not done:
                keep.append(x)
        self.xpending = keep

    def sync_inode(self, ino):
        ino.dmode = ino.mode
        if ino.kind == 'f':
            ino.ddata = bytes(ino.data)
        elif ino.kind == 'd':
            ino.dentries = dict(ino.entries)
            self.sync_exchanges(ino)
            keep = []
            for (src, name, moved, dst) in self.pending:
                if dst is ino:
                    if src.dentries.get(name) is moved:
                        del src.dentries[name]
                    continue
                if src is ino and name not in ino.entries:
                    ino.dentries[name] = moved    # not durable until dst is
                keep.append((src, name, moved, dst))
            self.pending = keep

    def sync_dev(self, dev):
        if dev in self.noop:
            return
        for ino in self.inodes:
            if dev is None or ino.dev == dev:
                ino.dmode = ino.mode
                if ino.kind == 'f':
                    ino.ddata = bytes(ino.data)
                elif ino.kind == 'd':
                    ino.dentries = dict(ino.entries)
        self.pending = [p for p in self.pending
                        if not (dev is None or p[3].dev == dev)]
        for x in self.xpending:
            for d in (x[0], x[3]):
                if dev is None or d.dev == dev:
                    x[6].add(id(d))
        for x in list(self.xpending):
            self.sync_exchanges(x[0])
        for (src, name, moved, dst) in self.pending:
            if name not in src.entries:
                src.dentries[name] = moved

    # -- states --
    def state(self, variant):
        """{relpath: (kind, mode, bytes or link, inode id)} of one crash state."""
        out = {}

        def walk(ino, rel, depth):
            if depth > 64:
                raise ModelError('a directory loop in the model')
            eager = variant in ('metadata', 'live')
            names = ino.entries if eager else ino.dentries
            for name in sorted(names):
                child = names[name]
                p = rel + b'/' + name if rel else name
                if child.kind == 'd':
                    mode = child.mode if eager else child.dmode
                    out[p] = ('d', mode, b'', child.id)
                    walk(child, p, depth + 1)
                elif child.kind == 'l':
                    out[p] = ('l', 0o777, child.link, child.id)
                else:
                    mode = child.mode if eager else child.dmode
                    out[p] = ('f', mode, self.data_of(child, variant), child.id)
        walk(self.root, b'', 0)
        return out

    @staticmethod
    def data_of(ino, variant):
        if variant in ('data', 'live'):
            return bytes(ino.data)
        if variant == 'torn':
            d, v = ino.ddata, bytes(ino.data)
            if len(v) > len(d) and v.startswith(d):
                return v[:len(d) + (len(v) - len(d)) // 2]
        return ino.ddata


def signature(st):
    h = hashlib.sha256()
    first = {}
    for p in sorted(st):
        kind, mode, data, iid = st[p]
        link = first.setdefault(iid, p)
        h.update(b'%s\0%s\0%o\0%s\0%s\n' % (p, kind.encode(), mode,
                                             hashlib.sha256(data).hexdigest().encode(), link))
    return h.hexdigest()


# ---- replay ----------------------------------------------------------------

MUTATING = {'open', 'openat', 'creat', 'write', 'pwrite64', 'writev', 'ftruncate',
            'rename', 'renameat', 'renameat2', 'link', 'linkat', 'unlink',
            'unlinkat', 'mkdir', 'mkdirat', 'rmdir', 'fsync', 'fdatasync',
            'syncfs', 'sync', 'fchmod', 'fchmodat', 'chmod', 'symlink',
            'symlinkat', 'truncate', 'fallocate', 'sendfile', 'copy_file_range',
            'pwritev', 'pwritev2', 'mknod', 'mknodat'}


class Replay:
    def __init__(self, model, cwd):
        self.m = model
        self.fds = {}
        self.cwd = os.path.realpath(cwd).encode()

    def base(self, fdarg):
        """(inode, None) of a directory fd argument on the model, or (None,
        absolute path) of one outside it. An fd is followed by the inode it
        was opened on, not by its path: the path may have been renamed or
        removed since (held work directory fds)."""
        if fdarg is None or fdarg.startswith('AT_FDCWD'):
            return self.at_path(self.cwd)
        fd, ann = arg_fd(fdarg)
        o = self.fds.get(fd)
        if o is not None and o.ino is not None:
            return o.ino, None
        if o is not None and o.path is not None:
            return None, o.path
        if ann is not None and not self.m.tracked(ann):
            return None, ann
        raise ModelError('fd %s used and not opened in the trace (%r)' % (fd, ann))

    def at_path(self, path):
        if not self.m.tracked(path):
            return None, path
        ino = self.m.walk_from(self.m.root, path[len(self.m.host):])
        if ino is None:
            raise ModelError('a path missing from the model: %r' % path)
        return ino, None

    def locate(self, fdarg, patharg):
        """Where (dirfd, path) leads, as the kernel resolved it: (parent
        inode, last name, shown) on the model (last name None when the path
        names the directory itself: "." or /proc/self/fd/N), or (None, None,
        absolute path) outside it. /proc/self/fd/N[/...] starts at fd N."""
        path = arg_str(patharg)
        mt = re.match(rb'^/proc/(?:self|thread-self|\d+)/fd/(\d+)(/.*)?$', path)
        if mt:
            ino, abspath = self.base('%s' % int(mt.group(1)))
            rest = mt.group(2) or b''
        elif path.startswith(b'/'):
            ino, abspath, rest = None, b'/', path
        else:
            ino, abspath = self.base(fdarg)
            rest = path
        if ino is None:
            full = os.path.normpath(abspath + b'/' + rest)
            if not self.m.tracked(full):
                return None, None, full
            ino, rest = self.m.root, full[len(self.m.host):]
        comps = [c for c in rest.split(b'/') if c and c != b'.']
        if b'..' in comps:
            raise ModelError('.. in a path on the model: %r' % path)
        if not comps:
            return ino, None, path
        parent = self.m.walk_from(ino, b'/'.join(comps[:-1]))
        if parent is None or parent.kind != 'd':
            raise ModelError('no parent for %r' % path)
        return parent, comps[-1], path

    def locate_name(self, fdarg, patharg):
        """locate() for calls on a name (never the directory itself)."""
        parent, leaf, shown = self.locate(fdarg, patharg)
        if parent is not None and leaf is None:
            raise ModelError('a name operation on a directory itself: %r' % shown)
        return parent, leaf, shown

    def path_of(self, target):
        """The current path of a model inode (for fchdir)."""
        todo = [(self.m.root, self.m.host)]
        while todo:
            ino, p = todo.pop()
            if ino is target:
                return p
            for name, child in (ino.entries or {}).items():
                if child.kind == 'd':
                    todo.append((child, p + b'/' + name))
        raise ModelError('fchdir to a directory no longer in the model')

    def ofd(self, fdarg):
        fd, ann = arg_fd(fdarg)
        o = self.fds.get(fd)
        if o is None:
            if ann is not None and self.m.tracked(ann):
                raise ModelError('fd %d on %r opened outside the trace' % (fd, ann))
            return None
        return o

    def write_at(self, ino, off, data):
        d = ino.data
        if off > len(d):
            d.extend(b'\0' * (off - len(d)))
        d[off:off + len(data)] = data

    def other_pid(self, name, args, line):
        """A child may read anything but change nothing below the host."""
        if name not in MUTATING or name in ('fsync', 'fdatasync', 'syncfs', 'sync'):
            return
        if name in ('open', 'openat', 'creat'):
            flags = arg_flags(args[1 if name == 'open' else 2]) if name != 'creat' else {'O_CREAT'}
            if not flags & {'O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_TRUNC'}:
                return
        base = None
        for x in args:
            if x.startswith('"'):
                p = arg_str(x)
                if not p.startswith(b'/'):
                    if base is None:
                        continue
                    p = base + b'/' + p
                p = os.path.normpath(p)
            elif re.match(r'^(AT_FDCWD|\d+)<', x):
                base = arg_fd(x)[1]
                if x.startswith('AT_FDCWD'):
                    continue
                p = base
            else:
                continue
            if self.m.tracked(p):
                raise ModelError('a child process changed the host: %s' % short(line, self.m.host))

    def exchange(self, sp, sl, dp, dl, src, dst):
        m = self.m
        if (sp is None) != (dp is None):
            raise ModelError('an exchange into or out of the host: %r %r' % (src, dst))
        ia, ib = sp.entries.get(sl), dp.entries.get(dl)
        if ia is None or ib is None:
            raise ModelError('an exchange of a missing name succeeded: %r %r' % (src, dst))
        if ia is ib:
            return False
        sp.entries[sl], dp.entries[dl] = ib, ia
        m.xpending.append([sp, sl, ib, dp, dl, ia, set()])
        return True

    def step(self, name, a, ret):
        """Apply one successful call of the main process; True if it changed
        the model."""
        m = self.m
        if name in ('open', 'openat', 'creat'):
            if name == 'creat':
                fdarg, parg, flags, mode = None, a[0], {'O_CREAT', 'O_WRONLY', 'O_TRUNC'}, a[1]
            elif name == 'open':
                fdarg, parg, flags = None, a[0], arg_flags(a[1])
                mode = a[2] if len(a) > 2 else '0'
            else:
                fdarg, parg, flags = a[0], a[1], arg_flags(a[2])
                mode = a[3] if len(a) > 3 else '0'
            parent, leaf, path = self.locate(fdarg, parg)
            if parent is None:
                self.fds[ret] = OFD(None, False, path)
                return False
            if 'O_TMPFILE' in flags or '__O_TMPFILE' in flags:
                raise ModelError('O_TMPFILE is not modelled')
            changed = False
            if leaf is None:
                ino = parent
            else:
                ino = parent.entries.get(leaf)
                if ino is not None and ino.kind == 'l':
                    raise ModelError('an open through a symlink: %r' % path)
                if ino is None:
                    if 'O_CREAT' not in flags:
                        raise ModelError('open of a missing file succeeded: %r' % path)
                    ino = m.new('f', parent.dev, arg_int(mode) & ~m.umask & 0o7777)
                    parent.entries[leaf] = ino
                    changed = True
            if 'O_TRUNC' in flags and ino.kind == 'f' and ino.data:
                ino.data = bytearray()
                changed = True
            self.fds[ret] = OFD(ino, 'O_APPEND' in flags, path)
            return changed
        if name == 'close':
            fd, _ = arg_fd(a[0])
            self.fds.pop(fd, None)
            return False
        if name in ('dup', 'dup2', 'dup3') or (name == 'fcntl' and a[1].startswith('F_DUPFD')):
            fd, _ = arg_fd(a[0])
            if fd in self.fds:
                self.fds[ret] = self.fds[fd]
            else:
                self.fds.pop(ret, None)
            return False
        if name == 'fcntl':
            return False
        if name == 'umask':
            m.umask = arg_int(a[0])
            return False
        if name == 'chdir':
            parent, leaf, path = self.locate(None, a[0])
            if parent is not None:
                ino = parent if leaf is None else parent.entries.get(leaf)
                path = self.path_of(ino)
            self.cwd = path
            return False
        if name == 'fchdir':
            ino, path = self.base(a[0])
            self.cwd = path if ino is None else self.path_of(ino)
            return False
        if name in ('write', 'pwrite64', 'writev', 'pwritev', 'pwritev2'):
            o = self.ofd(a[0])
            if o is None or o.ino is None:
                return False
            if name in ('write', 'pwrite64'):
                data = arg_str(a[1])[:ret]
            else:
                data = b''.join(arg_str(s) for s in re.findall(r'iov_base=("[^"]*"(?:\.\.\.)?)', a[1]))[:ret]
            if name in ('pwrite64', 'pwritev', 'pwritev2'):
                self.write_at(o.ino, arg_int(a[-1] if name == 'pwrite64' else a[3]), data)
            else:
                if o.append:
                    o.off = len(o.ino.data)
                self.write_at(o.ino, o.off, data)
                o.off += len(data)
            return len(data) > 0
        if name == 'lseek':
            o = self.ofd(a[0])
            if o is not None:
                o.off = ret
            return False
        if name == 'ftruncate':
            o = self.ofd(a[0])
            if o is None or o.ino is None:
                return False
            n = arg_int(a[1])
            d = o.ino.data
            o.ino.data = bytearray(d[:n]) + bytearray(b'\0' * max(0, n - len(d)))
            return True
        if name in ('fsync', 'fdatasync'):
            o = self.ofd(a[0])
            if o is None or o.ino is None:
                return False
            m.sync_inode(o.ino)
            return True
        if name == 'syncfs':
            ino, path = self.base(a[0])
            dev = ino.dev if ino is not None else os.stat(path).st_dev
            if dev is not None:
                m.sync_dev(dev)
            return True
        if name == 'sync':
            for dev in {i.dev for i in m.inodes}:
                m.sync_dev(dev)
            return True
        if name in ('fchmod', 'fchmodat', 'chmod'):
            if name == 'fchmod':
                o = self.ofd(a[0])
                ino = o.ino if o else None
                mode = a[1]
            else:
                parent, leaf, _ = self.locate(a[0] if name == 'fchmodat' else None,
                                              a[1] if name == 'fchmodat' else a[0])
                ino = parent if leaf is None else parent.entries.get(leaf) if parent else None
                mode = a[2] if name == 'fchmodat' else a[1]
            if ino is None:
                return False
            ino.mode = arg_int(mode) & 0o7777
            return True
        if name in ('mkdir', 'mkdirat'):
            parent, leaf, path = self.locate_name(a[0] if name == 'mkdirat' else None,
                                                  a[1] if name == 'mkdirat' else a[0])
            if parent is None:
                return False
            mode = a[2] if name == 'mkdirat' else a[1]
            parent.entries[leaf] = m.new('d', parent.dev, arg_int(mode) & ~m.umask & 0o7777)
            return True
        if name in ('unlink', 'unlinkat', 'rmdir'):
            parent, leaf, path = self.locate_name(a[0] if name == 'unlinkat' else None,
                                                  a[1] if name == 'unlinkat' else a[0])
            if parent is None:
                return False
            if leaf not in parent.entries:
                raise ModelError('unlink of a missing name succeeded: %r' % path)
            gone = parent.entries[leaf]
            rmdir = name == 'rmdir' or (name == 'unlinkat' and 'AT_REMOVEDIR' in a[2])
            if rmdir != (gone.kind == 'd'):
                raise ModelError('%s of a %s succeeded: %r' % (
                    name, 'directory' if gone.kind == 'd' else 'file', path))
            if rmdir and gone.entries:
                raise ModelError('rmdir of a directory the model holds entries in: %r' % path)
            del parent.entries[leaf]
            return True
        if name in ('rename', 'renameat', 'renameat2'):
            if name == 'rename':
                sp, sl, src = self.locate_name(None, a[0])
                dp, dl, dst = self.locate_name(None, a[1])
            else:
                sp, sl, src = self.locate_name(a[0], a[1])
                dp, dl, dst = self.locate_name(a[2], a[3])
                if name == 'renameat2' and re.search(r'RENAME_WHITEOUT', a[4]):
                    raise ModelError('RENAME_WHITEOUT is not modelled')
            if sp is None and dp is None:
                return False
            if name == 'renameat2' and 'RENAME_EXCHANGE' in a[4]:
                return self.exchange(sp, sl, dp, dl, src, dst)
            if (sp is None) != (dp is None):
                raise ModelError('a rename into or out of the host: %r %r' % (src, dst))
            ino = sp.entries.get(sl)
            if ino is None:
                raise ModelError('rename of a missing name succeeded: %r' % src)
            if dp.entries.get(dl) is ino:
                return False          # two links to one file: a no-op
            old = dp.entries.get(dl)
            if old is not None and (old.kind == 'd') != (ino.kind == 'd'):
                raise ModelError('a rename between a file and a directory succeeded: %r' % dst)
            if old is not None and old.kind == 'd' and old.entries:
                raise ModelError('a rename over a directory with entries succeeded: %r' % dst)
            del sp.entries[sl]
            dp.entries[dl] = ino
            if sp is not dp:
                m.pending.append((sp, sl, ino, dp))
            return True
        if name in ('link', 'linkat'):
            if name == 'link':
                sp, sl, src = self.locate_name(None, a[0])
                dp, dl, dst = self.locate_name(None, a[1])
            else:
                if 'AT_EMPTY_PATH' in a[4]:
                    raise ModelError('linkat with AT_EMPTY_PATH is not modelled')
                sp, sl, src = self.locate_name(a[0], a[1])
                dp, dl, dst = self.locate_name(a[2], a[3])
            if dp is None:
                return False
            if sp is None:
                raise ModelError('a link into the host from outside it: %r' % src)
            ino = sp.entries.get(sl)
            if ino is None or ino.kind == 'd' or dl in dp.entries:
                raise ModelError('a link the model cannot make succeeded: %r %r' % (src, dst))
            dp.entries[dl] = ino
            return True
        if name in MUTATING:
            for x in a:
                if re.search(r'<|"', x):
                    try:
                        p = arg_fd(x)[1] if '<' in x else arg_str(x)
                    except ModelError:
                        continue
                    if p and m.tracked(os.path.normpath(p)):
                        raise ModelError('%s on the host is not modelled' % name)
        return False


def short(line, host):
    """The call with its strings decoded (data shown as its length), the
    host's path shortened to $HOST."""
    def dec(mt):
        b = unhex(mt.group(0))
        if len(b) > 120 or any(c < 0x20 or c > 0x7e for c in b):
            return '<%d bytes>' % len(b)
        return b.decode().replace(host.decode(), '$HOST')
    return re.sub(r'(?:\\x[0-9a-f]{2})+', dec, line)[:200]


def crash_states(model, replay, calls, main):
    """[(label, variant, state)], distinct trees in order of first sight."""
    out, seen = [], set()

    def take(label):
        for variant in ('lost', 'metadata', 'torn', 'data'):
            st = model.state(variant)
            sig = signature(st)
            if sig not in seen:
                seen.add(sig)
                out.append((label, variant, st, model.state('live')))
    take('before the run')
    n = 0
    for (pid, name, args, ret, line) in calls:
        if pid != main:
            replay.other_pid(name, args, line)
            continue
        if ret is None or ret < 0:
            continue
        n += 1
        if replay.step(name, args, ret):
            take('after call #%d %s' % (n, short(line.split(' ', 1)[1], model.host)))
    take('after the run')
    return out


# ---- materialise and check ------------------------------------------------

def clear(path):
    """Empty directory path, keeping mount points below it (emptied too)."""
    dev = os.lstat(path).st_dev
    for name in os.listdir(path):
        p = os.path.join(path, name)
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode) and (st.st_dev != dev or os.path.ismount(p)):
            clear(p)
        elif stat.S_ISDIR(st.st_mode):
            clear(p)
            if not os.listdir(p):
                os.rmdir(p)       # else it holds a mount point: kept
        else:
            os.unlink(p)


def materialise(host, st):
    host = host.encode() if isinstance(host, str) else host
    clear(host)
    first = {}
    dirs = []
    for p in sorted(st):
        kind, mode, data, iid = st[p]
        full = os.path.join(host, p)
        if kind == 'd':
            if not os.path.isdir(full):
                os.mkdir(full, 0o700)
            dirs.append((full, mode))
        elif kind == 'l':
            os.symlink(data, full)
        elif iid in first:
            os.link(first[iid], full)
        else:
            first[iid] = full
            with open(full, 'wb') as f:
                f.write(data)
            os.chmod(full, mode)
    for full, mode in reversed(dirs):
        os.chmod(full, mode)


def tree_sum(target):
    """{relpath: (mode, sha256)} of the target's files, without upgr's work
    directory (inside the target when the target is a mount point)."""
    out = {}
    if not os.path.isdir(target):
        return out
    for dirpath, dirnames, filenames in os.walk(target):
        if dirpath == target:
            dirnames[:] = [d for d in dirnames if not d.startswith('.upgr-')]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                digest = hashlib.sha256(os.readlink(p).encode()).hexdigest()
            else:
                with open(p, 'rb') as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, target)] = (oct(stat.S_IMODE(st.st_mode)), digest)
    return out


class Checker:
    def __init__(self, o):
        self.o = o
        self.cfg = ['-c', o.config]
        with open(o.releases) as f:
            self.releases = json.load(f)   # {version or "": tree_sum}

    def upgr(self, *args):
        p = subprocess.run([self.o.upgr] + list(args), capture_output=True, text=True,
                           errors='replace')
        return p.returncode, p.stdout, p.stderr

    def which(self, tree):
        for v, t in self.releases.items():
            if {k: tuple(x) for k, x in t.items()} == tree:
                return v
        return None

    def manifest_version(self):
        p = os.path.join(self.o.state, 'apps', self.o.app, 'manifest.yaml')
        if not os.path.exists(p):
            return ''
        with open(p, errors='replace') as f:
            for line in f:
                mt = re.match(r"^version: *'?\"?([^'\"\s]*)", line)
                if mt:
                    return mt.group(1)
        return '?'

    def audit(self, want):
        """Failure classes of the audit log against version want."""
        if not os.path.exists(self.o.audit):
            return [] if self.o.audit_absent_ok and want == '' else \
                [('audit-record', 'no audit log')]
        rc, out, err = self.upgr('audit', 'verify', '-p', self.o.pub, self.o.audit)
        fails = []
        if rc != 0:
            fails.append(('audit-verify', 'audit verify exit %d: %s' % (rc, (err or out).strip()[:160])))
        rc, out, err = self.upgr('audit', 'show', '--json', '--app', self.o.app, self.o.audit)
        try:
            recs = json.loads(out) if rc == 0 else None
        except ValueError:
            recs = None
        if recs is None:
            fails.append(('audit-record', 'audit show exit %d: %s' % (rc, err.strip()[:120])))
        elif not recs:
            if want != '':
                fails.append(('audit-record', 'no record, tree is %s' % want))
        elif not [r for r in recs if r.get('action') != 'repair']:
            if want != '':
                fails.append(('audit-record', 'only repair records, tree is %s' % want))
        else:
            # A repaired torn append (audit.c repair_torn) is fine: the
            # newest record that is not a repair must agree with the tree.
            r = [r for r in recs if r.get('action') != 'repair'][-1]
            left = r.get('to') if r.get('result') == 'success' else r.get('from')
            if left != want:
                fails.append(('audit-record', 'newest record %s %s->%s %s leaves %r, tree is %r' % (
                    r.get('action'), r.get('from'), r.get('to'), r.get('result'), left, want)))
        return fails

    def check(self):
        """[(class, message)] of the host as it stands."""
        o = self.o
        if o.svc_running and os.path.exists(o.svc_running):
            os.unlink(o.svc_running)      # after a power cut nothing runs
        fails = []
        journal = os.path.join(o.state, 'apps', o.app, 'journal')
        in_flight = os.path.exists(journal)
        rc, out, err = self.upgr('recover', *self.cfg)
        if rc != 0:
            fails.append(('recover', 'recover exit %d: %s' % (rc, err.strip()[:160])))
            return fails, None
        if os.path.exists(journal):
            fails.append(('journal', 'a journal is left after recover'))
        tree = tree_sum(o.target)
        want = self.which(tree)
        if want is None:
            diff = []
            for v, t in self.releases.items():
                t = {k: tuple(x) for k, x in t.items()}
                d = sorted(set(tree) ^ set(t)) + sorted(k for k in tree if k in t and tree[k] != t[k])
                diff.append('vs %s: %s' % (v or 'nothing', ', '.join(d[:4])))
            fails.append(('tree', 'target is neither release (%s)' % '; '.join(diff)))
            return fails, None
        rc, out, err = self.upgr('status', *self.cfg, '--json')
        try:
            apps = json.loads(out)['apps']
            got = [a['version'] for a in apps if a['app'] == o.app][0]
        except (ValueError, KeyError, IndexError):
            got = '?'
        if got != want:
            fails.append(('status', 'status says %r, tree is %r' % (got, want)))
        mv = self.manifest_version()
        if mv != want:
            fails.append(('manifest', 'installed manifest %r, tree is %r' % (mv, want)))
        fails += self.audit(want)
        if in_flight:
            fails += self.resolved(want)
        if not fails and o.rollback_after and want == o.rollback_after[0]:
            fails += self.rollback_after()
        return fails, want

    def records(self):
        if not os.path.exists(self.o.audit):
            return 0
        rc, out, err = self.upgr('audit', 'show', '--json', self.o.audit)
        try:
            return len(json.loads(out))
        except ValueError:
            return -1

    def resolved(self, want):
        """A journal was found: recovery recorded the transaction (invariant
        6 of src/txn.c). (Which version runs is not checked: after a power
        cut the boot starts the service, not upgr.)"""
        fails = []
        if self.records() <= self.before:
            fails.append(('audit-record', 'a transaction was in flight and no record of it '
                          'was added (%d records before the run)' % self.before))
        return fails

    def rollback_after(self):
        """From the new version, `upgr rollback` gets back exactly the old."""
        new, old = self.o.rollback_after
        rc, out, err = self.upgr('rollback', *self.cfg, self.o.app)
        tree = self.which(tree_sum(self.o.target))
        if rc == 0 and tree == old:
            return []
        return [('rollback-after', 'a later rollback exits %d and leaves %s: %s' % (
            rc, tree if tree is not None else 'neither release', err.strip()[:120]))]


def lost_writes(st, vol):
    """What the crash state lacks against the process's view."""
    out = []
    for p in sorted(set(vol) | set(st)):
        a, b = st.get(p), vol.get(p)
        if a is None:
            out.append('-%s' % p.decode(errors='replace'))
        elif b is None:
            out.append('+%s (undone removal or rename)' % p.decode(errors='replace'))
        elif a[0] == 'f' and a[2] != b[2]:
            out.append('%s %dB of %dB' % (p.decode(errors='replace'), len(a[2]), len(b[2])))
        elif a[1] != b[1]:
            out.append('%s mode %o not %o' % (p.decode(errors='replace'), a[1], b[1]))
    return out


def explore(o, cmd):
    host = os.path.realpath(o.host)
    noop = [os.stat(p).st_dev for p in o.syncfs_noop]
    model = Model(host, noop)
    base = os.path.join(o.work, 'base')
    if os.path.exists(base):
        shutil.rmtree(base)
    trace = os.path.join(o.work, 'trace')
    chk = Checker(o)
    chk.before = chk.records()
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=0')
    p = subprocess.run(['strace', '-f', '-yy', '-xx', '-s', '16777216', '-o', trace,
                        '-e', 'trace=' + TRACED] + cmd, env=env, capture_output=True,
                       text=True, errors='replace')
    if p.returncode != o.expect_exit:
        print('not ok - %s: the recorded run exits %d: %s' % (o.label, p.returncode,
                                                              p.stderr.strip()[:300]))
        return 1
    calls = read_trace(trace)
    main = calls[0][0] if calls else 0
    try:
        states = crash_states(model, Replay(model, os.getcwd()), calls, main)
    except ModelError as ex:
        print('not ok - %s: the model cannot follow the run: %s' % (o.label, ex))
        return 1
    total = len(states)
    if total > o.max_states:
        step = (total - 1) / (o.max_states - 1)
        picks = sorted({round(i * step) for i in range(o.max_states)} | {total - 1})
        states = [states[i] for i in picks]
    gaps = [g.split(':', 1) for g in o.known_gap if ':' in g]
    counts = {'ok': 0, 'fail': 0, 'known': 0}
    used = set()
    for (label, variant, st, vol) in states:
        materialise(host, st)
        fails, want = chk.check()
        name = '%s: power cut %s (%s)' % (o.label, label, variant)
        if not fails:
            counts['ok'] += 1
            print('ok - %s: %s, status, manifest and audit agree' % (name, want or 'nothing installed'))
            continue
        classes = {c for c, _ in fails}
        lost = lost_writes(st, vol)
        known = {c for (w, c) in gaps if w in (o.label, o.label + '/' + variant)}
        if classes <= known:
            used |= {(w, c) for (w, c) in gaps if c in classes and
                     w in (o.label, o.label + '/' + variant)}
            counts['known'] += 1
            print('# known gap (%s) - %s' % (','.join(sorted(classes)), name))
        else:
            counts['fail'] += 1
            print('not ok - %s' % name)
        for c, msg in fails:
            print('#   %s: %s' % (c, msg))
        print('#   not durable at that point: %s' % ('; '.join(lost[:8]) or 'nothing'))
    for (w, c) in gaps:
        if w.split('/')[0] == o.label and (w, c) not in used:
            print('# known gap %s:%s was not seen: fixed? (remove it from the list)' % (w, c))
    print('ok - %s: %d of %d distinct crash states checked (%d calls of the run replayed), %d known gaps'
          % (o.label, len(states), total, sum(1 for c in calls if c[0] == main), counts['known'])
          if len(states) > 0 else 'not ok - %s: no crash state' % o.label)
    return 0


def main():
    if sys.argv[1:2] == ['treesum']:
        json.dump(tree_sum(sys.argv[2]), sys.stdout, sort_keys=True)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--label', required=True)
    ap.add_argument('--host', required=True, help='directory holding everything upgr writes')
    ap.add_argument('--work', required=True, help='scratch directory for the trace')
    ap.add_argument('--upgr', required=True)
    ap.add_argument('--config', required=True)
    ap.add_argument('--app', default='hello')
    ap.add_argument('--target', required=True)
    ap.add_argument('--state', required=True)
    ap.add_argument('--audit', required=True)
    ap.add_argument('--pub', required=True)
    ap.add_argument('--releases', required=True,
                    help='JSON {version: tree sum}; "" for nothing installed')
    ap.add_argument('--audit-absent-ok', action='store_true')
    ap.add_argument('--svc-running', default='')
    ap.add_argument('--rollback-after', nargs=2, metavar=('NEW', 'OLD'))
    ap.add_argument('--syncfs-noop', action='append', default=[])
    ap.add_argument('--known-gap', action='append', default=[])
    ap.add_argument('--max-states', type=int, default=80)
    ap.add_argument('--expect-exit', type=int, default=0, help="the recorded run's exit")
    argv = sys.argv[1:]
    if argv[:1] != ['explore'] or '--' not in argv:
        ap.error('usage: powerloss.py explore [options] -- CMD...')
    cut = argv.index('--')
    return explore(ap.parse_args(argv[1:cut]), argv[cut + 1:])


if __name__ == '__main__':
    sys.exit(main())
