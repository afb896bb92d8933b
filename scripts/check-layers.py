#!/usr/bin/env python3
"""The layers check: src/ folders depend only on the folders docs/design/architecture.md allows.

The allowed edges are read from the ```layers block of the design note, so the picture in the
doc and the rule CI enforces are the same text. Three things are checked:
  1. includes: a file in src/A may include "B/..." only if A == B or A -> B is declared, and
     never another folder's internal.h;
  2. calls (with --objects DIR): every mcp__ symbol an object file of src/A uses and does not
     define must be defined in A or a folder A may include; a public mcp_ symbol defined in src/B
     may be called from A if A -> B is declared either way (private or "| public API" edge);
  3. cycles: the declared folder graph, and the file-level include graph of src/, have none.
Exit 1 with one line per violation; exit 0 with a summary otherwise.
"""
import os, re, subprocess, sys, argparse

def parse_doc(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"```layers\n(.*?)```", text, re.S)
    if not m:
        sys.exit(f"{path}: no ```layers block")
    priv, pub = {}, {}
    for line in m.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, rest = line.partition(":")
        p, _, q = rest.partition("|")
        priv[name.strip()] = set(p.split())
        pub[name.strip()] = set(q.split())
    return priv, pub

def find_cycle(graph):
    state, stack = {}, []
    def dfs(n):
        state[n] = 1; stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = dfs(m)
                if c: return c
        state[n] = 2; stack.pop()
        return None
    for n in sorted(graph):
        if n not in state:
            c = dfs(n)
            if c: return c
    return None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--objects", help="folder holding src/<layer>/*.c.o (CMake object dir)")
    a = ap.parse_args()
    priv, pub = parse_doc(a.doc)
    bad = []
    folders = sorted(d for d in os.listdir(a.src) if os.path.isdir(os.path.join(a.src, d)))
    for d in folders:
        if d not in priv:
            bad.append(f"src/{d}/: folder not declared in {a.doc}")
    for n, deps in list(priv.items()):
        for m in deps | pub[n]:
            if m not in priv:
                bad.append(f"{a.doc}: {n} -> {m}: {m} is not a declared folder")
    decl = {n: priv[n] | pub[n] for n in priv}
    c = find_cycle(decl)
    if c:
        bad.append("declared folder graph has a cycle: " + " -> ".join(c))

    inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    fgraph, nfiles, nincs = {}, 0, 0
    for d in folders:
        for f in sorted(os.listdir(os.path.join(a.src, d))):
            if not f.endswith((".c", ".h")):
                continue
            nfiles += 1
            rel = f"{d}/{f}"
            src = open(os.path.join(a.src, d, f), encoding="utf-8", errors="replace").read()
            fgraph[rel] = set()
            for inc in inc_re.findall(src):
                nincs += 1
                if "/" not in inc:
                    target = f"{d}/{inc}"
                else:
                    target = inc
                fgraph[rel].add(target)
                to = target.split("/", 1)[0]
                if to == d:
                    continue
                if os.path.basename(target) == "internal.h":
                    bad.append(f"src/{rel}: includes {inc}, private to src/{to}/")
                elif to not in priv.get(d, set()):
                    bad.append(f"src/{rel}: includes {inc}, but {d} -> {to} is not allowed")
    c = find_cycle(fgraph)
    if c:
        bad.append("file include cycle: " + " -> ".join(c))

    ncalls = 0
    if a.objects:
        defs, uses = {}, {}
        for d in folders:
            od = os.path.join(a.objects, d)
            if not os.path.isdir(od):
                continue
            for f in sorted(os.listdir(od)):
                if not f.endswith(".o") or not os.path.exists(os.path.join(a.src, d, f[:-2])):
                    continue             # not an object, or left over from a source that moved
                out = subprocess.run(["nm", os.path.join(od, f)], capture_output=True,
                                     text=True, check=True).stdout
                for line in out.splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == "U" and parts[1].startswith("mcp_"):
                        uses.setdefault((d, f), set()).add(parts[1])
                    elif len(parts) == 3 and parts[1] in "TDBR" and parts[2].startswith("mcp_"):
                        defs[parts[2]] = d
        for (d, f), syms in sorted(uses.items()):
            for s in sorted(syms):
                to = defs.get(s)
                if to is None or to == d:
                    continue
                ncalls += 1
                if s.startswith("mcp__"):
                    if to not in priv.get(d, set()):
                        bad.append(f"src/{d}/{f[:-2]}: calls {s} (src/{to}), but {d} -> {to} is not allowed")
                elif to not in decl.get(d, set()):
                    bad.append(f"src/{d}/{f[:-2]}: calls {s} (src/{to}), but {d} -> {to} is not declared")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        print(f"layers: {len(bad)} violation(s)", file=sys.stderr)
        return 1
    print(f"layers ok: {len(folders)} folders, {nfiles} files, {nincs} includes"
          + (f", {ncalls} cross-folder calls" if a.objects else "") + ", no cycle")
    return 0

sys.exit(main())
