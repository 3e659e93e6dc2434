#!/usr/bin/env python3
"""Cuts a Falco .scap capture down to one process tree, for a committed test fixture.

    scap_filter.py IN.scap OUT.scap MARKER

A capture holds the whole machine's process table (command lines and environments of
every process) and every event of the capture window. This keeps:
  - the process-list entries of the process whose command line contains MARKER, its
    descendants and its shell ancestors (up to the first that is not a shell), with their
    environments replaced by a fixed two-entry one,
  - the fd lists of the marked process and its descendants,
  - the events of those threads (and of threads they create), plus the metaevents that are
    not tied to a thread (users and groups added), with every exec's environment replaced
    the same way,
  - every other block as it is (section header, machine info, interfaces, users).
Blocks and events kept are copied byte for byte, except the environment fields rewritten.
Input may be gzip-compressed; output is gzip-compressed, as Falco writes it.
"""
import gzip
import struct
import sys

ENV = b"PATH=/usr/bin:/bin\0HOME=/root\0"
SHELLS = {b"bash", b"sh", b"dash", b"zsh"}

PL_V9 = 0x215
FDL_V2 = 0x218
EV_V2 = 0x216
CLONE_CODES = {223, 225, 227, 335}  # clone, fork, vfork, clone3 (exit)
EXEC_CODES = {293, 331}  # execve, execveat (exit)
EXEC_ENV_PARAM = 15


def blocks(data):
    off = 0
    while off + 8 <= len(data):
        btype, total = struct.unpack_from("<II", data, off)
        yield btype, data[off + 8 : off + total - 4]
        off += total


def frame(btype, body):
    pad = (4 - len(body) % 4) % 4
    total = 12 + len(body) + pad
    return struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total)


def str16(b, pos):
    (n,) = struct.unpack_from("<H", b, pos)
    return b[pos + 2 : pos + 2 + n], pos + 2 + n


def proc_entries(body):
    """(tid, pid, ptid, args, entry bytes, (env start, env end)) per version-9 entry."""
    pos = 0
    while len(body) - pos >= 4:
        (sub,) = struct.unpack_from("<I", body, pos)
        e = body[pos : pos + sub]
        tid, pid, ptid = struct.unpack_from("<qqq", e, 4)
        p = 4 + 5 * 8
        _comm, p = str16(e, p)
        _exe, p = str16(e, p)
        _exepath, p = str16(e, p)
        args, p = str16(e, p)
        _cwd, p = str16(e, p)
        p += 8 + 4 + 4 + 4 + 4 * 3 + 8 * 2
        env_start = p
        _env, p = str16(e, p)
        yield tid, pid, ptid, args, e, (env_start, p)
        pos += sub


def entry_comm(e):
    return str16(e, 4 + 5 * 8)[0]


def scrub_entry(e, span):
    start, end = span
    new = e[:start] + struct.pack("<H", len(ENV)) + ENV + e[end:]
    return struct.pack("<I", len(new)) + new[4:]


def event_fields(body):
    ts, tid, length, code, nparams = struct.unpack_from("<QqIHI", body, 2)
    return tid, code, nparams


def params(body, nparams):
    lens = struct.unpack_from("<%dH" % nparams, body, 2 + 26)
    out, pos = [], 2 + 26 + 2 * nparams
    for n in lens:
        out.append(body[pos : pos + n])
        pos += n
    return out


def rebuild_event(body, nparams, ps):
    hdr = bytearray(body[2 : 2 + 26])
    length = 26 + 2 * nparams + sum(len(p) for p in ps)
    struct.pack_into("<I", hdr, 16, length)
    return body[:2] + bytes(hdr) + b"".join(struct.pack("<H", len(p)) for p in ps) + b"".join(ps)


def main(src, dst, marker):
    raw = open(src, "rb").read()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    entries = [e for bt, body in blocks(data) if bt == PL_V9 for e in proc_entries(body)]
    by_pid = {pid: (ptid, args) for tid, pid, ptid, args, _, _ in entries if tid == pid}
    comm = {pid: entry_comm(e) for tid, pid, _, _, e, _ in entries if tid == pid}
    tgid = {tid: pid for tid, pid, *_ in entries}
    roots = [pid for pid, (_, args) in by_pid.items() if marker.encode() in args]
    if len(roots) != 1:
        sys.exit(f"{len(roots)} processes match {marker!r}")
    root = roots[0]
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, (ptid, _) in by_pid.items():
            if pid not in tree and tgid.get(ptid, ptid) in tree:
                tree.add(pid)
                changed = True
    # Ancestors up to the first that is not a shell: the ones above belong to whatever ran
    # the shell (and their command lines have no place in a fixture).
    ancestors = set()
    p = tgid.get(by_pid[root][0], by_pid[root][0])
    while p in by_pid and p not in ancestors and comm[p] in SHELLS:
        ancestors.add(p)
        p = tgid.get(by_pid[p][0], by_pid[p][0])
    keep_procs = tree | ancestors
    live = {tid for tid, pid, *_ in entries if pid in keep_procs}

    out = bytearray()
    kept = dropped = 0
    for bt, body in blocks(data):
        if bt == PL_V9:
            new = b"".join(
                scrub_entry(e, span)
                for tid, pid, _, _, e, span in proc_entries(body)
                if pid in keep_procs
            )
            out += frame(bt, new)
        elif bt == FDL_V2:
            (tid,) = struct.unpack_from("<q", body, 0)
            if tgid.get(tid, tid) in tree:
                out += frame(bt, body)
        elif bt == EV_V2:
            tid, code, nparams = event_fields(body)
            if code in CLONE_CODES and nparams > 5:
                ps = params(body, nparams)
                (res,) = struct.unpack("<q", ps[0])
                (ptid,) = struct.unpack("<q", ps[5])
                if res > 0 and tid in live:
                    live.add(res)  # the caller's side names the child
                elif res == 0 and ptid in live:
                    live.add(tid)  # the child's side came first
            if tid == -1 or tid in live:
                if code in EXEC_CODES and nparams > EXEC_ENV_PARAM:
                    ps = params(body, nparams)
                    ps[EXEC_ENV_PARAM] = ENV
                    body = rebuild_event(body, nparams, ps)
                out += frame(bt, body)
                kept += 1
            else:
                dropped += 1
        else:
            out += frame(bt, body)
    with open(dst, "wb") as f:
        f.write(gzip.compress(bytes(out), compresslevel=9, mtime=0))
    print(f"processes kept {len(keep_procs)} (tree {len(tree)}), events kept {kept}, dropped {dropped}")


if __name__ == "__main__":
    main(*sys.argv[1:])
