#!/usr/bin/env python3
"""Size, shape and coupling figures for the domain crate (issue 16's before/after numbers).

Measures, for the Rust sources under a root (default shared/core/src):
  * the N longest functions (`fn` items, `fn` line to closing brace, by brace matching with
    string, raw-string, char literals and comments masked out); test functions (in a
    `#[cfg(test)]` module or file, or carrying a `#[test]`-like attribute) are marked, and the
    longest non-test functions are listed apart;
  * the largest files (lines, tests included), the count over 1,000 lines, and lines per folder;
  * the import graph between the crate's files (a module = a .rs file; edges from `use
    crate::/super::/self::` trees, from `crate::a::b::f` / `super::x` paths in code, and from
    `m::name` uses of an imported module `m`; `pub use` re-exports are followed to the module
    that defines the name), and its strongly connected components of more than one file (the
    import cycles), with, per file, which files of the cycle it imports and which names;
  * counts of `#[allow(clippy::too_many_arguments)]`, of string literals that are Cognito
    challenge names, and of hand-written retry-on-conflict loops (a `loop`/`for`/`while`
    whose body matches a lost store race: `ConditionFailed`, `ConcurrentModificationException`
    or an outcome named `Raced`/`Lost`, and then tries again; nested ones count once).

Run from the repository root (Python 3 standard library only):
    python3 tools/domain-metrics.py [ROOT] [-n 10] [--json]
"""

import argparse
import json
import os
import re
import sys

CHALLENGE_NAMES = {
    "SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE", "MFA_SETUP",
    "PASSWORD_VERIFIER", "CUSTOM_CHALLENGE", "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER",
    "NEW_PASSWORD_REQUIRED", "SELECT_CHALLENGE", "PASSWORD", "PASSWORD_SRP", "WEB_AUTHN",
    "SMS_OTP", "ADMIN_NO_SRP_AUTH",
}


# ---------------------------------------------------------------- lexing


def mask(text):
    """Returns (code, strings): `code` is `text` with comments and the insides of string and
    char literals blanked (newlines kept, so offsets and lines stay), `strings` the string
    literals as (offset, value)."""
    out = list(text)
    strings = []
    n = len(text)
    i = 0

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    def ident_before(k):
        return k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_")

    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c in "rbc" and not ident_before(i) and re.match(r'(?:br|cr|r)#*"', text[i:i + 260]):
            m = re.match(r'(?:br|cr|r)(#*)"', text[i:])
            close = '"' + m.group(1)
            start = i + m.end()
            j = text.find(close, start)
            j = n if j < 0 else j
            strings.append((i, text[start:j]))
            blank(start, j)
            i = j + len(close)
        elif c in "bc" and not ident_before(i) and text.startswith('"', i + 1):
            i += 1  # b"..." / c"...": the quote is handled next round
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            strings.append((i, decode(text[i + 1:j])))
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '{') or a lifetime / label ('a, 'static).
            if text.startswith("\\", i + 1):
                j = i + 1
                while j < n and text[j] != "'":
                    j += 2 if text[j] == "\\" else 1
                blank(i + 1, j)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i + 1, i + 2)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out), strings


def decode(s):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(m.group(1), m.group(1)), s)


def match_brace(code, open_at):
    """Offset of the `}` closing the `{` at `open_at` (code already masked)."""
    depth = 0
    for k in range(open_at, len(code)):
        ch = code[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


class Source:
    def __init__(self, root, rel):
        self.rel = rel
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            self.text = f.read()
        self.code, self.strings = mask(self.text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        self.lines = self.text.count("\n") + (0 if self.text.endswith("\n") or not self.text else 1)
        self.test_file = False  # declared under #[cfg(test)] by its parent
        self.inline_mods = []  # (name, open, close, is_test)
        for m in re.finditer(r"\bmod\s+([A-Za-z_]\w*)\s*\{", self.code):
            close = match_brace(self.code, m.end() - 1)
            is_test = bool(re.search(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(pub(\([^)]*\))?\s+)?$", self.code[:m.start()]))
            self.inline_mods.append((m.group(1), m.end() - 1, close, is_test))

    def line(self, off):
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= off:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def in_test(self, off):
        return self.test_file or any(t and a < off < b for (_, a, b, t) in self.inline_mods)

    def mods_at(self, off):
        """Names of the inline modules enclosing `off`, outermost first."""
        return [name for (name, a, b, _) in sorted(self.inline_mods, key=lambda x: x[1]) if a < off < b]


# ---------------------------------------------------------------- functions


def functions(src):
    code = src.code
    out = []
    for m in re.finditer(r"\bfn\s+([A-Za-z_]\w*)", code):
        k = m.end()
        # Skip generics and the parameter list, then find the body or a `;` (a declaration).
        depth = 0
        body = None
        while k < len(code):
            ch = code[k]
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif depth == 0 and ch == ";":
                break
            elif depth == 0 and ch == "{":
                body = k
                break
            k += 1
        if body is None:
            continue
        end = match_brace(code, body)
        start_line, end_line = src.line(m.start()), src.line(end)
        attrs = attributes_before(code, m.start())
        is_test = src.in_test(m.start()) or bool(re.search(r"#\[(?:\w+::)*test\b", attrs))
        out.append({
            "file": src.rel, "line": start_line, "name": m.group(1),
            "lines": end_line - start_line + 1, "test": is_test,
        })
    return out


def attributes_before(code, off):
    """The attributes (and qualifiers) directly before an item starting at `off`."""
    start = off
    while True:
        base = max(0, start - 4000)  # attributes are short; do not rescan the whole file
        seg = code[base:start]
        m = re.search(r"(#\[[^\]]*(?:\[[^\]]*\][^\]]*)*\]|\bpub(?:\([^)]*\))?|\basync|\bconst|\bunsafe|\bextern(?:\s+\"[^\"]*\")?)\s*$", seg)
        if not m:
            return code[start:off]
        start = base + m.start()


# ---------------------------------------------------------------- modules and imports


def module_tree(root):
    """Maps module path tuples (crate root = ()) to file paths relative to root; inline
    modules map to their file too. Also returns the Source of every file reached."""
    files, sources = {}, {}

    def visit(path, rel, test):
        if rel in sources or not os.path.exists(os.path.join(root, rel)):
            return
        src = Source(root, rel)
        src.test_file = test
        sources[rel] = src
        files[path] = rel
        for (name, a, b, _) in src.inline_mods:
            files[path + tuple(src.mods_at(a + 1))] = rel
        base = os.path.dirname(rel)
        stem = os.path.splitext(os.path.basename(rel))[0]
        child_dir = base if stem in ("lib", "main", "mod") else os.path.join(base, stem)
        for m in re.finditer(r"\bmod\s+([A-Za-z_]\w*)\s*;", src.code):
            name = m.group(1)
            inner = src.mods_at(m.start())
            d = os.path.join(child_dir, *inner)
            attrs = attributes_before(src.code, m.start())
            is_test = test or src.in_test(m.start()) or bool(re.search(r"#\[cfg\([^\]]*\btest\b", attrs))
            for cand in (os.path.join(d, name + ".rs"), os.path.join(d, name, "mod.rs")):
                if os.path.exists(os.path.join(root, cand)):
                    visit(path + tuple(inner) + (name,), os.path.normpath(cand), is_test)
                    break

    visit((), "lib.rs", False)
    # Files not reachable from lib.rs (none expected) are still measured.
    for dirpath, _, names in os.walk(root):
        for f in names:
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if f.endswith(".rs") and rel not in sources:
                sources[rel] = Source(root, rel)
    return files, sources


def split_top(s, sep=","):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_uses(code):
    """(offset, re-exported, [(segments, alias)]) for every `use` declaration; any `pub(..)`
    counts as a re-export (crate-internal re-exports are edges all the same)."""
    out = []
    for m in re.finditer(r"(\bpub(?:\s*\([^)]*\))?\s+)?\buse\s+([^;]*);", code):
        out.append((m.start(), bool(m.group(1)), use_leaves(m.group(2))))
    return out


def use_leaves(body, prefix=()):
    """Leaves of a use tree (text with whitespace) as (segments, alias)."""
    body = body.strip()
    if body.startswith("::"):
        body = body[2:]
    brace = body.find("{")
    if brace >= 0 and body.endswith("}"):
        head = [p.strip() for p in body[:brace].split("::") if p.strip()]
        out = []
        for part in split_top(body[brace + 1:-1]):
            if part.strip():
                out.extend(use_leaves(part, prefix + tuple(head)))
        return out
    alias = None
    m = re.match(r"^(.*?)\s+as\s+(\w+)$", body)
    if m:
        body, alias = m.group(1), m.group(2)
    segs = tuple(p.strip() for p in body.split("::") if p.strip())
    full = prefix + segs
    if full and full[-1] == "self":
        full = full[:-1]
    if alias is None and full:
        alias = full[-1] if full[-1] != "*" else None
    return [(full, alias)]


class Graph:
    def __init__(self, root):
        self.files, self.sources = module_tree(root)
        self.mod_of_file = {}
        for path, rel in self.files.items():
            if rel not in self.mod_of_file or len(path) < len(self.mod_of_file[rel]):
                self.mod_of_file[rel] = path
        self.uses = {rel: parse_uses(src.code) for rel, src in self.sources.items()}
        self.reexports = {}  # module path -> {name: absolute segments}
        for rel, uses in self.uses.items():
            src = self.sources[rel]
            for (off, pub, leaves) in uses:
                if not pub:
                    continue
                here = self.mod_of_file.get(rel, ()) + tuple(src.mods_at(off))
                for segs, alias in leaves:
                    absolute = self.absolute(here, segs)
                    if absolute and segs[-1] != "*" and alias:
                        self.reexports.setdefault(here, {})[alias] = absolute

    def absolute(self, here, segs):
        """Absolute module-path segments of a path written in module `here`, or None when it
        leaves the crate."""
        segs = list(segs)
        if not segs:
            return None
        if segs[0] == "crate":
            return tuple(segs[1:])
        if segs[0] in ("self", "super"):
            cur = list(here)
            while segs and segs[0] in ("self", "super"):
                if segs.pop(0) == "super":
                    cur = cur[:-1]
            return tuple(cur + segs)
        if tuple(here) + (segs[0],) in self.files:  # a child module named without `self::`
            return tuple(here) + tuple(segs)
        return None

    def resolve(self, absolute, depth=0):
        """(file, name) that an absolute path points at; name None for a module itself."""
        for k in range(len(absolute), -1, -1):
            mod = tuple(absolute[:k])
            if mod in self.files:
                rest = absolute[k:]
                if not rest:
                    return self.files[mod], None
                name = rest[0]
                target = self.reexports.get(mod, {}).get(name)
                if target and depth < 8:
                    return self.resolve(target + tuple(rest[1:]), depth + 1)
                inline = mod[len(self.mod_of_file.get(self.files[mod], ())):]
                return self.files[mod], "::".join(inline + (name,))
        return None

    def edges(self):
        """{file: {target file: set(names)}} (self-edges left out)."""
        out = {rel: {} for rel in self.sources}

        def add(rel, target, name):
            if target and target[0] != rel:
                out[rel].setdefault(target[0], set()).add(name or target[1] or "(module)")

        for rel, src in self.sources.items():
            base = self.mod_of_file.get(rel, ())
            module_aliases = {}  # alias -> module path (for `alias::name` in code)
            use_spans = []
            for (off, pub, leaves) in self.uses[rel]:
                end = src.code.find(";", off)
                use_spans.append((off, end))
                here = base + tuple(src.mods_at(off))
                for segs, alias in leaves:
                    absolute = self.absolute(here, segs)
                    if absolute is None:
                        continue
                    if segs[-1] == "*":
                        t = self.resolve(absolute[:-1])
                        add(rel, t, "*")
                        continue
                    t = self.resolve(absolute)
                    if t is None:
                        continue
                    if t[1] is None:  # a module imported as a whole
                        if alias and alias != "_":
                            module_aliases[alias] = absolute
                        add(rel, t, "(module)")
                    else:
                        add(rel, t, t[1])
            in_use = lambda k: any(a <= k <= b for a, b in use_spans)
            # Paths in code: crate::..., super::..., self::...
            for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::[A-Za-z_]\w*)+)", src.code):
                if in_use(m.start()):
                    continue
                here = base + tuple(src.mods_at(m.start()))
                absolute = self.absolute(here, m.group(1).split("::"))
                t = self.resolve(absolute) if absolute else None
                if t:
                    add(rel, t, t[1] or "(module)")
            # Paths through an imported module: alias::name.
            for alias, mod in module_aliases.items():
                for m in re.finditer(r"(?<![\w:])" + re.escape(alias) + r"::([A-Za-z_]\w*)", src.code):
                    if in_use(m.start()):
                        continue
                    t = self.resolve(tuple(mod) + (m.group(1),))
                    if t:
                        add(rel, t, t[1] or "(module)")
        # A file that imports names also drops the bare "(module)" mark.
        for rel in out:
            for t, names in out[rel].items():
                if len(names) > 1:
                    names.discard("(module)")
        return out


def sccs(graph):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                strong(w)
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
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return [c for c in out if len(c) > 1]


# ---------------------------------------------------------------- counts


CONFLICT = re.compile(r"(?:StoreError::)?ConditionFailed\s*\{[^}]*\}|Error::ConcurrentModificationException\s*\(\s*_\s*\)|\b\w+::(?:Raced|Lost)\b")
LOOP = re.compile(r"\b(loop|for\b[^{;]*?\bin\b[^{;]*?|while\b[^{;]*?)\s*\{")


def arm_retries(code, at):
    """Whether the match arm whose pattern ends at `at` goes round the loop again: its
    expression is `continue`, `{}`, a counter bump, or a block that does not begin by leaving."""
    m = re.compile(r"[^{},;]*?=>\s*").match(code, at)  # an optional guard, then `=>`
    if not m:
        return False
    k = m.end()
    rest = code[k:k + 200]
    if re.match(r"continue\b|\{\s*\}|\w+\s*\+=", rest):
        return True
    if rest.startswith("{"):
        inner = code[k + 1:match_brace(code, k)].strip()
        return not re.match(r"(return\b|Err\(|Ok\(|break\b)", inner)
    return False


def retry_loops(src):
    """Outermost loops that go round again after losing a store race: a match arm on a failed
    condition, a concurrent modification or an outcome named `Raced`/`Lost` that continues, or
    an `if let X::Done(..)` that leaves only when the attempt was not lost."""
    found = []
    for m in LOOP.finditer(src.code):
        open_at = m.end() - 1
        close = match_brace(src.code, open_at)
        if any(a < open_at and close <= b for (a, b) in found):
            continue
        body = src.code[open_at:close]
        if re.search(r"\bfn\s", body):
            continue
        hit = any(arm_retries(src.code, open_at + c.end()) for c in CONFLICT.finditer(body))
        hit = hit or bool(re.search(r"\bif\s+let\s+\w+::Done\s*\(", body))
        if hit:
            found.append((open_at, close))
    return [(src.line(a), src.line(b), src.in_test(a)) for (a, b) in found]


def measure(root, top):
    g = Graph(root)
    srcs = g.sources
    fns = [f for s in srcs.values() for f in functions(s)]
    fns.sort(key=lambda f: (-f["lines"], f["file"], f["line"]))
    files = sorted(({"file": r, "lines": s.lines} for r, s in srcs.items()), key=lambda x: (-x["lines"], x["file"]))
    total = sum(f["lines"] for f in files)
    folders = {}
    for f in files:
        d = os.path.dirname(f["file"]) or "."
        e = folders.setdefault(d, {"folder": d, "files": 0, "lines": 0})
        e["files"] += 1
        e["lines"] += f["lines"]
    edges = g.edges()
    cycles = []
    for comp in sccs({k: v for k, v in edges.items()}):
        members = set(comp)
        cycles.append({
            "files": comp,
            "imports": {f: {t: sorted(n) for t, n in sorted(edges[f].items()) if t in members} for f in comp},
        })
    cycles.sort(key=lambda c: -len(c["files"]))
    allows, challenge, retries = [], [], []
    for rel, s in sorted(srcs.items()):
        for m in re.finditer(r"clippy::too_many_arguments", s.code):
            allows.append({"file": rel, "line": s.line(m.start())})
        for off, val in s.strings:
            if val in CHALLENGE_NAMES:
                challenge.append({"file": rel, "line": s.line(off), "name": val, "test": s.in_test(off)})
        # retry.rs is the one helper every retry goes through: its own loop is not hand-written.
        for (a, b, t) in ([] if rel == "retry.rs" else retry_loops(s)):
            retries.append({"file": rel, "line": a, "lines": b - a + 1, "test": t})
    per_file_challenge = {}
    for c in challenge:
        per_file_challenge[c["file"]] = per_file_challenge.get(c["file"], 0) + 1
    return {
        "root": root,
        "files": len(files),
        "total_lines": total,
        "functions": len(fns),
        "longest_functions": fns[:top],
        "longest_non_test_functions": [f for f in fns if not f["test"]][:top],
        "largest_files": files[:top],
        "files_over_1000_lines": [f for f in files if f["lines"] > 1000],
        "folders": sorted(folders.values(), key=lambda x: -x["lines"]),
        "import_edges": sum(len(v) for v in edges.values()),
        "import_graph": {f: {t: sorted(n) for t, n in sorted(v.items())} for f, v in sorted(edges.items())},
        "import_cycles": cycles,
        "too_many_arguments_allows": allows,
        "challenge_name_literals": {
            "total": len(challenge),
            "non_test": sum(1 for c in challenge if not c["test"]),
            "per_file": dict(sorted(per_file_challenge.items(), key=lambda x: -x[1])),
            "per_name": {n: [sum(1 for c in challenge if c["name"] == n),
                             sum(1 for c in challenge if c["name"] == n and not c["test"])]
                         for n in sorted({c["name"] for c in challenge})},
            "sites": challenge,
        },
        "retry_on_conflict_loops": retries,
    }


def text_report(r, top):
    out = []
    w = out.append
    w(f"Domain metrics for {r['root']}: {r['files']} files, {r['total_lines']} lines, {r['functions']} functions")
    w("")
    w(f"Longest {top} functions (tests included; [test] marks test code):")
    for i, f in enumerate(r["longest_functions"], 1):
        w(f"  {i:2}. {f['lines']:4} lines  {f['file']}:{f['line']}  {f['name']}{'  [test]' if f['test'] else ''}")
    w("")
    w(f"Longest {top} non-test functions:")
    for i, f in enumerate(r["longest_non_test_functions"], 1):
        w(f"  {i:2}. {f['lines']:4} lines  {f['file']}:{f['line']}  {f['name']}")
    w("")
    w(f"Largest {top} files (lines, tests included):")
    for f in r["largest_files"]:
        w(f"  {f['lines']:5}  {f['file']}")
    over = r["files_over_1000_lines"]
    w(f"Files over 1,000 lines: {len(over)}" + (f" ({', '.join(f['file'] for f in over)})" if over else ""))
    w("")
    w("Lines per folder:")
    for d in r["folders"]:
        w(f"  {d['lines']:6} lines ({100.0 * d['lines'] / r['total_lines']:4.1f} %) in {d['files']:2} files  {d['folder']}/")
    w("")
    cyc = r["import_cycles"]
    w(f"Import graph: {r['import_edges']} file-to-file edges; import cycles (strongly connected components of more than one file): {len(cyc)}")
    for k, c in enumerate(cyc, 1):
        w(f"  cycle {k}: {len(c['files'])} files: {', '.join(c['files'])}")
        for f in c["files"]:
            w(f"    {f} imports:")
            for t, names in c["imports"][f].items():
                w(f"      {t}: {', '.join(names)}")
    w("")
    a = r["too_many_arguments_allows"]
    w(f"#[allow(clippy::too_many_arguments)]: {len(a)}")
    for x in a:
        w(f"  {x['file']}:{x['line']}")
    ch = r["challenge_name_literals"]
    w(f"Challenge-name string literals: {ch['total']} ({ch['non_test']} outside tests)")
    for f, n in ch["per_file"].items():
        w(f"  {n:3}  {f}")
    w("  by name (all / outside tests): " + ", ".join(
        f"{k} {v[0]}/{v[1]}" for k, v in sorted(ch["per_name"].items(), key=lambda x: -x[1][0])))
    rl = r["retry_on_conflict_loops"]
    w(f"Hand-written retry-on-conflict loops: {sum(1 for x in rl if not x['test'])} outside tests"
      f" ({sum(1 for x in rl if x['test'])} more in test code)")
    for x in rl:
        w(f"  {x['file']}:{x['line']} ({x['lines']} lines){'  [test]' if x['test'] else ''}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root", nargs="?", default="shared/core/src")
    p.add_argument("-n", type=int, default=10, help="how many functions and files to list")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    a = p.parse_args()
    if not os.path.isfile(os.path.join(a.root, "lib.rs")):
        p.error(f"{a.root}/lib.rs not found: give the crate's source root (run from the repository root)")
    r = measure(a.root, a.n)
    if a.json:
        json.dump(r, sys.stdout, indent=1)
        print()
    else:
        print(text_report(r, a.n))


if __name__ == "__main__":
    main()
