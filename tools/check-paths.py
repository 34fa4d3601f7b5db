#!/usr/bin/env python3
"""Fails when a repository path named in the docs or in a source comment does not exist.

Reads README.md, docs/*.md and every tracked source/build file, finds the tokens that
name a path inside this repository (they start with one of the top-level folders,
e.g. `include/vkv/store.hpp`, `tests/cache/`, `tools/run-lab.sh`, or are a bare
`detail/<name>.hpp`, which means include/vkv/detail/), and checks that each exists in
the work tree. Globs (`*`), placeholders (`<...>`, `...`), build outputs (`build/`) and
the generated blocks of the docs (between `<!-- generated:NAME begin -->` and `end -->`:
they record what ran at the commit they name) are skipped. Prints every missing
reference as FILE:LINE: PATH and exits 1 if any.

Usage: tools/check-paths.py            (from anywhere inside the repository)
"""
import os
import re
import subprocess
import sys

root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip()
os.chdir(root)

# The repository's top-level folders (whatever they are now).
TOP = sorted({p.split("/")[0] for p in
              subprocess.check_output(["git", "ls-files"], text=True).split("\n") if "/" in p})
path_re = re.compile(
    r"(?<![\w/.-])((?:%s)/[A-Za-z0-9_./+-]*[A-Za-z0-9_/])" % "|".join(re.escape(t) for t in TOP))
detail_re = re.compile(r"(?<![\w/.-])(detail/[A-Za-z0-9_]+\.hpp)")
SOURCE_EXT = (".hpp", ".cpp", ".h", ".cc", ".cmake", ".sh", ".py", ".txt", ".json")

tracked = subprocess.check_output(["git", "ls-files"], text=True).split("\n")
files = [f for f in tracked if f and os.path.isfile(f) and
         (f.endswith(".md") or f.endswith(SOURCE_EXT) or f == ".ci/run")]
# Generated charts and the fuzz corpus are data, not text that names paths.
files = [f for f in files if not f.startswith(("docs/charts/", "tests/fuzz/corpus/"))]


def exists(path):
    path = path.rstrip("/.")
    if os.path.exists(path):
        return True
    # A path named relative to include/vkv (the public headers' own convention).
    return os.path.exists(os.path.join("include", "vkv", path)) or \
        os.path.exists(os.path.join("include", path))


missing = []
for f in files:
    try:
        text = open(f, encoding="utf-8").read()
    except UnicodeDecodeError:
        continue
    generated = False
    for n, line in enumerate(text.split("\n"), 1):
        # A doc's generated block, markers included (a script that writes one names
        # both markers, sometimes on one line, and is checked as usual).
        if f.endswith(".md") and re.search(r"<!-- generated:\S+ begin -->", line):
            generated = True
        if generated:
            if re.search(r"<!-- generated:\S+ end -->", line):
                generated = False
            continue
        # An #include is checked by the compiler, relative to its include path.
        if "check-paths: ignore" in line or line.lstrip().startswith("#include"):
            continue
        for m in list(path_re.finditer(line)) + list(detail_re.finditer(line)):
            p = m.group(1)
            after = line[m.end():m.end() + 1]
            if "*" in p or after in ("*", "<", "{") or "..." in p or p.startswith("build/"):
                continue
            if p.startswith("detail/"):
                p = "include/vkv/" + p
            if not exists(p):
                missing.append(f"{f}:{n}: {p}")

for m in missing:
    print(m)
if missing:
    print(f"check-paths: {len(missing)} reference(s) to paths that do not exist", file=sys.stderr)
    sys.exit(1)
print(f"check-paths: every path named in {len(files)} files exists")
