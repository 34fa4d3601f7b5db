#!/usr/bin/env python3
"""Rewrites one generated block of a doc: the text between '<!-- generated:NAME begin -->'
and '<!-- generated:NAME end -->' becomes the PARTs, each without trailing whitespace,
separated by a blank line. Text outside the markers is left as it was. Exits 1 when the
doc has no such block. Used by tools/docs/lab-doc.sh and tools/docs/lab-screenshot.sh.

Usage: tools/docs/doc-block.py PATH NAME PART...
"""
import re
import sys

if len(sys.argv) < 4:
    sys.exit(__doc__.strip().split("\n")[-1])
path, name, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
begin, end = f"<!-- generated:{name} begin -->", f"<!-- generated:{name} end -->"
block = begin + "\n" + "\n\n".join(p.rstrip() for p in parts) + "\n" + end
text = open(path).read()
pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
if not pattern.search(text):
    sys.exit(f"doc-block: {path} has no '{name}' block")
open(path, "w").write(pattern.sub(lambda _: block, text))
