#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The module graph of the kernel module's Rust sources, and its rules.

    scripts/modgraph.py [--dot] [SRC_DIR]

Reads the crate from SRC_DIR/tcp_stealth_main.rs (default: src/ next to
this script), following `mod NAME;` declarations (every cfg but cfg(test),
whose code is not in the module), and finds which module uses which: every
path of a `use` item and every path in the code that starts with `crate`,
`super`, `self`, a child module's name or a name a `use` brought in.
A path is charged to the file module that defines what it names: a name a
module only re-exports (`pub use child::Name`) leads on to the child, and a
re-export alone is no use of the child. Inline modules belong to their file.
Comments (and so intra-doc links) do not count.

Fails (exit 1), naming the files and lines of each offending use, if
  - the graph has a cycle;
  - a module uses the crate root (it must be only at the top);
  - a module under ffi uses one outside ffi and proto (the glue);
  - a module under proto uses one outside proto.
With --dot it prints the graph in Graphviz form instead.
"""

import os
import re
import sys
from collections import defaultdict

EXTERN = {"kernel", "core", "alloc", "macros", "std", "pin_init"}


# ---------------------------------------------------------------- tokens
def tokenize(text):
    """(kind, value, line) for identifiers, '::' and punctuation; comments,
    strings, chars and lifetimes dropped."""
    toks = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
        elif re.match(r'b?r#*"', text[i:i + 40]):
            m = re.match(r'b?r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            line += text.count("\n", i, j)
            i = j
        elif c == '"' or text.startswith('b"', i):
            i += 2 if c == "b" else 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                line += text[i] == "\n"
                i += 1
            i += 1
        elif c == "'" or text.startswith("b'", i):
            k = i + (2 if c == "b" else 1)
            m = re.match(r"(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\\n])'",
                         text[k:k + 12])
            if m:
                i = k + m.end()
            else:
                # A lifetime or a label.
                m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[k:])
                i = k + (m.end() if m else 0)
        elif c.isalpha() or c == "_":
            m = re.match(r"(r#)?[A-Za-z_][A-Za-z0-9_]*", text[i:])
            toks.append(("id", m.group(0).removeprefix("r#"), line))
            i += m.end()
        elif c.isdigit():
            m = re.match(r"[0-9][0-9A-Za-z_.]*", text[i:])
            i += m.end()
        elif text.startswith("::", i):
            toks.append(("::", "::", line))
            i += 2
        else:
            toks.append(("p", c, line))
            i += 1
    return toks


# ---------------------------------------------------------------- parsing
class File:
    def __init__(self, path, mod):
        self.path = path
        self.mod = mod  # module path, a tuple: () is the crate root
        self.children = {}  # name -> module tuple (file or inline)
        self.inline = set()  # inline module tuples in this file
        self.uses = []  # (scope, path list, line, is_reexport)
        self.code_paths = []  # (scope, path list, line)


def parse_use_tree(toks, i, prefix, out):
    """Parses a use tree from toks[i]; appends (path, alias) leaves to out;
    returns the index after the tree."""
    path = list(prefix)
    while True:
        kind, val, _ = toks[i]
        if kind == "p" and val == "{":
            i += 1
            while not (toks[i][0] == "p" and toks[i][1] == "}"):
                i = parse_use_tree(toks, i, path, out)
                if toks[i][0] == "p" and toks[i][1] == ",":
                    i += 1
            return i + 1
        if kind == "p" and val == "*":
            out.append((path + ["*"], None))
            return i + 1
        if kind == "id":
            path.append(val)
            i += 1
            if toks[i][0] == "::":
                i += 1
                continue
            alias = val
            if toks[i][0] == "id" and toks[i][1] == "as":
                alias = toks[i + 1][1]
                i += 2
            if val == "self":
                path.pop()
                alias = path[-1] if alias == "self" and path else alias
            out.append((path, alias))
            return i
        if kind == "::":  # a leading `::`
            i += 1
            continue
        raise SyntaxError(f"use tree at line {toks[i][2]}: {val!r}")


def parse_file(f, text):
    toks = tokenize(text)
    scopes = [(f.mod, 0)]  # (module tuple, brace depth it opened at)
    depth = 0
    skip_test = False  # the next item is #[cfg(test)]
    pending_pub = False
    i = 0
    while i < len(toks):
        kind, val, line = toks[i]
        scope = scopes[-1][0]
        if kind == "p" and val == "#":
            # An attribute: #[...] or #![...]; note cfg(test).
            j = i + 1
            if toks[j][1] == "!":
                j += 1
            k, d = j, 0
            words = []
            while True:
                if toks[k][0] == "p" and toks[k][1] == "[":
                    d += 1
                elif toks[k][0] == "p" and toks[k][1] == "]":
                    d -= 1
                    if d == 0:
                        break
                words.append(toks[k][1])
                k += 1
            if words[:5] == ["[", "cfg", "(", "test", ")"]:
                skip_test = True
            i = k + 1
            continue
        if kind == "id" and val == "pub":
            pending_pub = True
            i += 1
            if toks[i][0] == "p" and toks[i][1] == "(":
                while not (toks[i][0] == "p" and toks[i][1] == ")"):
                    i += 1
                i += 1
            continue
        if kind == "id" and val == "mod" and toks[i + 1][0] == "id":
            name = toks[i + 1][1]
            nxt = toks[i + 2]
            if skip_test:
                # Skip the whole module.
                if nxt[1] == "{":
                    d, i = 0, i + 2
                    while True:
                        if toks[i][1] == "{":
                            d += 1
                        elif toks[i][1] == "}":
                            d -= 1
                            if d == 0:
                                break
                        i += 1
                    i += 1
                else:
                    i += 3
                skip_test = pending_pub = False
                continue
            child = scope + (name,)
            f.children[(scope, name)] = child
            if nxt[1] == "{":
                f.inline.add(child)
                depth += 1
                scopes.append((child, depth))
                i += 3
            else:
                i += 3
            skip_test = pending_pub = False
            continue
        if kind == "id" and val == "use":
            leaves = []
            i = parse_use_tree(toks, i + 1, [], leaves)
            for path, alias in leaves:
                if not skip_test:
                    f.uses.append((scope, path, alias, line, pending_pub))
            skip_test = pending_pub = False
            continue
        if kind == "p" and val == "{":
            depth += 1
        elif kind == "p" and val == "}":
            if scopes[-1][1] == depth and len(scopes) > 1:
                scopes.pop()
            depth -= 1
        elif kind == "p" and val in ";":
            skip_test = False
        if kind == "id" and i + 1 < len(toks) and toks[i + 1][0] == "::" and \
                not (i > 0 and toks[i - 1][0] == "::"):
            path, j = [val], i + 1
            while j + 1 < len(toks) and toks[j][0] == "::" and toks[j + 1][0] == "id":
                path.append(toks[j + 1][1])
                j += 2
            if not skip_test:
                f.code_paths.append((scope, path, line))
            i = j
            continue
        if kind != "p" or val not in "#":
            pending_pub = pending_pub and kind == "id" and val in (
                "crate", "super", "self", "in")
        i += 1


# ---------------------------------------------------------------- the crate
class Crate:
    def __init__(self, src):
        self.files = {}  # module tuple -> File (file modules only)
        self.owner = {}  # module tuple (file or inline) -> file module tuple
        self.children = {}  # (module, name) -> module
        self.aliases = {}  # (scope, name) -> absolute path list
        root = File(os.path.join(src, "tcp_stealth_main.rs"), ())
        todo = [(root, src)]
        while todo:
            f, d = todo.pop()
            with open(f.path, encoding="utf-8") as fh:
                parse_file(f, fh.read())
            self.files[f.mod] = f
            self.owner[f.mod] = f.mod
            for (scope, name), child in f.children.items():
                self.children[(scope, name)] = child
                if child in f.inline:
                    self.owner[child] = f.mod
                    continue
                base = d if scope == f.mod else None
                if base is None:
                    continue
                for p, cd in ((os.path.join(base, name + ".rs"), os.path.join(base, name)),
                              (os.path.join(base, name, "mod.rs"), os.path.join(base, name))):
                    if os.path.exists(p):
                        todo.append((File(p, child), cd))
                        break
                else:
                    sys.exit(f"modgraph: no file for module {'::'.join(child)}")
        # Names brought in by `use`, per scope, and those re-exported.
        self.reexports = {}
        for f in self.files.values():
            for scope, path, alias, _, pub in f.uses:
                if alias and alias != "*" and path and path[-1] != "*":
                    self.aliases[(scope, alias)] = (scope, path)
                    if pub:
                        self.reexports[(scope, alias)] = (scope, path)

    def absolute(self, scope, path, seen=()):
        """The absolute form (a list from the crate root) of `path` as
        written in `scope`, or None if it names something outside the
        crate."""
        head, rest = path[0], path[1:]
        if head == "crate":
            return list(rest)
        if head == "self":
            return list(scope) + list(rest)
        if head == "super":
            base = list(scope)
            while path and path[0] == "super":
                base, path = base[:-1], path[1:]
            return base + list(path)
        if (scope, head) in self.children:
            return list(scope) + list(path)
        key = (scope, head)
        if key in self.aliases and key not in seen:
            s, p = self.aliases[key]
            a = self.absolute(s, p, seen + (key,))
            return None if a is None else a + list(rest)
        return None

    def target(self, abspath, seen=0):
        """The file module that defines what `abspath` names."""
        mod = ()
        i = 0
        while i < len(abspath) and (mod, abspath[i]) in self.children:
            mod = self.children[(mod, abspath[i])]
            i += 1
        if i < len(abspath) and abspath[i] != "*" and seen < 16:
            # A re-export of the module leads on.
            key = (mod, abspath[i])
            if key in self.reexports:
                s, p = self.reexports[key]
                a = self.absolute(s, p)
                if a is not None:
                    return self.target(a + abspath[i + 1:], seen + 1)
        return self.owner[mod]

    def edges(self):
        """{(from, to): [(path, line, text)]} between file modules."""
        out = defaultdict(list)
        for f in self.files.values():
            refs = [(s, p, ln, "use") for s, p, _, ln, pub in f.uses if not pub]
            refs += [(s, p, ln, "path") for s, p, ln in f.code_paths]
            for scope, path, line, how in refs:
                a = self.absolute(scope, path)
                if a is None:
                    continue
                t = self.target(a)
                if t != f.mod:
                    out[(f.mod, t)].append((f.path, line, "::".join(path)))
        return out


def name(mod):
    return "crate" if not mod else "::".join(mod)


def sccs(nodes, adj):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--dot"]
    src = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", "src")
    crate = Crate(src)
    edges = crate.edges()
    if "--dot" in sys.argv:
        print("digraph modules {")
        for (a, b) in sorted(edges):
            print(f'  "{name(a)}" -> "{name(b)}";')
        print("}")
        return 0
    rel = os.path.relpath
    bad = []

    def report(title, pairs):
        bad.append(title)
        for (a, b) in pairs:
            print(f"  {name(a)} -> {name(b)}:")
            for path, line, text in edges[(a, b)][:3]:
                print(f"    {rel(path)}:{line}: {text}")
            if len(edges[(a, b)]) > 3:
                print(f"    ... and {len(edges[(a, b)]) - 3} more")

    adj = defaultdict(set)
    for (a, b) in edges:
        adj[a].add(b)
    for comp in sccs(crate.files.keys(), adj):
        if len(comp) > 1:
            c = set(comp)
            print("modgraph: cycle among " + ", ".join(sorted(name(m) for m in c)) + ":")
            report("cycle", sorted((a, b) for (a, b) in edges if a in c and b in c))
    up = sorted((a, b) for (a, b) in edges if b == ())
    if up:
        print("modgraph: modules that use the crate root (it must be only at the top):")
        report("root", up)

    def under(m, top):
        return len(m) > 0 and m[0] == top

    ffi_up = sorted((a, b) for (a, b) in edges
                    if under(a, "ffi") and not (under(b, "ffi") or under(b, "proto")))
    if ffi_up:
        print("modgraph: ffi uses the glue:")
        report("ffi", ffi_up)
    proto_out = sorted((a, b) for (a, b) in edges if under(a, "proto") and not under(b, "proto"))
    if proto_out:
        print("modgraph: proto uses modules outside proto:")
        report("proto", proto_out)
    if bad:
        return 1
    print(f"modgraph: {len(crate.files)} modules, {len(edges)} edges, no cycle, "
          "nothing uses the crate root, ffi and proto use no glue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
