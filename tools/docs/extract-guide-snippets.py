#!/usr/bin/env python3
"""Turns the ```cpp blocks of docs/guide.md into one GoogleTest translation unit.

Why: a user's manual whose examples do not compile is worse than none. The build
runs this script whenever the guide (or this script) changes and compiles and runs
every example as its own test, so an edit that breaks an example breaks the build.

Conventions, written in a block's info string after ``cpp``, e.g.
``` ```cpp {decl group=manual-retry requires=retry} ```; GitHub and most renderers
only look at the first word, so the attributes never show:

  (none)           the block is a sequence of statements; it becomes the body of
                   TEST(Guide, <Name>) and runs. State outcomes with EXPECT_/ASSERT_.
  decl             the block holds declarations (types, functions, TEST()s); it is
                   compiled at namespace scope. Its TEST()s run; other code runs only
                   when a statements block of the same group calls it.
  prelude          declarations shared by every example (the running Customer type);
                   compiled once at global scope, before every other block.
  group=NAME       blocks of one group share a namespace, so a later statements block
                   can call what an earlier decl block defined. Without a group each
                   block gets a namespace of its own.
  requires=A,B     compile the block only when the tree has these features; otherwise
                   the block becomes a test that reports itself as skipped, never a
                   broken build. With --probe-cxx the script finds out itself which
                   features compile (PROBES below); --features names them instead.
  norun            statements that are compiled but not run (e.g. ones that would
                   wait forever without a second process).
  name=Name        the test's name; by default it is made from the nearest heading.

#include lines anywhere in a block are hoisted to the top of the generated file.
Blocks marked ```text (or any other language) are shown and never compiled;
```c++/```cxx/```cc are refused so that nothing meant to compile slips through.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> {0,12})(?P<ticks>`{3,})(?P<info>[^`]*)$")
HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
KNOWN_FLAGS = {"decl", "prelude", "norun"}
KNOWN_KEYS = {"group", "requires", "name"}
REFUSED_LANGS = {"c++", "cxx", "cc", "cplusplus", "hpp", "h", "c"}

# The generated file pre-includes these so that examples can stay short; the
# guide says so in "About the examples".
STANDARD_INCLUDES = [
    "<vkv/vkv.hpp>",
    "<gtest/gtest.h>",
    "<algorithm>",
    "<atomic>",
    "<cctype>",
    "<chrono>",
    "<cstdint>",
    "<functional>",
    "<future>",
    "<iostream>",
    "<memory>",
    "<optional>",
    "<ostream>",
    "<random>",
    "<span>",
    "<stdexcept>",
    "<string>",
    "<thread>",
    "<vector>",
]


PROBE_COMMON = r"""
#include <vkv/vkv.hpp>
#include <string>
struct P { std::string s; long n; };
using S = vkv::Store<P>;
using R = S::record_type;
"""

# Each probe compiles (syntax only) iff the feature's examples can.
PROBES = {
    "retry": r"""
int probe() {
  vkv::RetryPolicy policy;
  policy.max_retries = 5;
  policy.retry_delay = std::chrono::microseconds(10);
  policy.max_delay = std::chrono::milliseconds(1);
  policy.backoff_multiplier = 2.0;
  policy.jitter = vkv::Jitter::equal;
  policy.on_retry = [](const vkv::RetryEvent& e) { (void)e.attempt; (void)e.delay; };
  return vkv::with_optimistic_retry([] { return 1; }, policy);
}
""",
    "update_with_retry": r"""
R probe(S& s) { return s.update_with_retry("k", [](P& p) { p.n += 1; }, vkv::RetryPolicy{}); }
""",
    "batch": r"""
#include <span>
#include <vector>
void probe(S& s) {
  std::vector<std::string> ids{"a", "b"};
  std::vector<std::optional<R>> found = s.find_many(ids);
  found = s.find_many(std::span<const std::string>(ids), vkv::ReadOptions{});
  std::vector<S::VersionedWrite> writes{{"a", vkv::Version{}, P{"x", 1}}};
  std::vector<vkv::Result<R>> results = s.update_many(writes);
  (void)results;
}
""",
    "transaction": r"""
#include <vector>
void probe(S& s, const vkv::Version& v) {
  vkv::Transaction<P> tx;
  tx.check("a", v).update("b", v, P{"x", 1}).soft_delete("c", v).erase("d", v);
  std::vector<R> written = s.commit(tx);
  vkv::Result<std::vector<R>> outcome = s.try_commit(tx);
  (void)written; (void)outcome;
}
""",
    "stats": r"""
double probe(const S& s) {
  vkv::StoreStats st = s.stats();
  return st.conflict_rate() + double(st.reads + st.creates + st.writes + st.conflicts +
                                     st.not_found + st.retries + st.retries_exhausted);
}
""",
    "contention": r"""
std::uint64_t probe() {
  vkv::StoreOptions o;
  o.contention_adaptive = true;
  o.contention_threshold = 0.25;
  o.contention_max_wait = std::chrono::microseconds(100);
  S s(o);
  return s.stats().turns;
}
""",
}


def probe_features(cxx, flags, include_dirs):
    """The PROBES that compile with this compiler and these include directories."""

    def compiles(item):
        name, body = item
        with tempfile.TemporaryDirectory(prefix="vkv-guide-probe-") as tmp:
            source = Path(tmp) / f"{name}.cpp"
            source.write_text(PROBE_COMMON + body, encoding="utf-8")
            command = [cxx, *flags, *(f"-I{d}" for d in include_dirs), "-fsyntax-only", str(source)]
            done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, check=False)
            return name, done.returncode == 0, done.stderr

    # Two at a time: the build machine is small and other compiles run beside us.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(compiles, PROBES.items()))
    found = set()
    for name, ok, stderr in results:
        if ok:
            found.add(name)
        elif os.environ.get("VKV_GUIDE_PROBE_VERBOSE"):
            print(f"probe {name} failed:\n{stderr}", file=sys.stderr)
    return found


class GuideError(Exception):
    pass


class Block:
    def __init__(self, line, info, lines, heading):
        self.line = line  # 1-based line of the first content line in the guide
        self.lines = lines
        self.heading = heading
        self.flags = set()
        self.attrs = {}
        self._parse_info(info)

    def _parse_info(self, info):
        match = re.fullmatch(r"\s*\{(?P<body>[^}]*)\}\s*", info) if info.strip() else None
        if info.strip() and not match:
            raise GuideError(f"line {self.line - 1}: attributes must be written as {{a b=c}}, got {info!r}")
        if not match:
            return
        for token in match.group("body").split():
            if "=" in token:
                key, value = token.split("=", 1)
                if key not in KNOWN_KEYS or not value:
                    raise GuideError(f"line {self.line - 1}: unknown or empty attribute {token!r}")
                self.attrs[key] = value
            elif token in KNOWN_FLAGS:
                self.flags.add(token)
            else:
                raise GuideError(f"line {self.line - 1}: unknown attribute {token!r}")
        if "prelude" in self.flags and (self.flags - {"prelude"} or self.attrs):
            raise GuideError(f"line {self.line - 1}: a prelude block takes no other attribute")
        if "norun" in self.flags and "decl" in self.flags:
            raise GuideError(f"line {self.line - 1}: norun applies to statement blocks only")

    @property
    def requires(self):
        value = self.attrs.get("requires", "")
        return [f for f in value.split(",") if f]


def parse_guide(text):
    blocks = []
    heading = "Guide"
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if not fence:
            h = HEADING.match(line)
            if h:
                heading = h.group("text")
            i += 1
            continue
        indent = len(fence.group("indent"))
        ticks = fence.group("ticks")
        info = fence.group("info").strip()
        lang, _, rest = info.partition(" ")
        if "{" in lang:  # ```cpp{decl}
            lang, brace, tail = lang.partition("{")
            rest = brace + tail + (" " + rest if rest else "")
        start = i + 1
        j = start
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(ticks) and set(close) == {"`"}:
                break
            j += 1
        else:
            raise GuideError(f"line {i + 1}: code block never closed")
        body = [l[indent:] if l[:indent].strip() == "" else l for l in lines[start:j]]
        if lang.lower() in REFUSED_LANGS:
            raise GuideError(
                f"line {i + 1}: use ```cpp for examples that compile and ```text for ones that do not")
        if lang == "cpp":
            blocks.append(Block(start + 1, rest, body, heading))
        i = j + 1
    return blocks


def camel(text):
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Example"
    return name if not name[0].isdigit() else "Example" + name


def generate(output_path, blocks, features, display_path):
    include_lines = list(STANDARD_INCLUDES)
    for block in blocks:
        for idx, l in enumerate(block.lines):
            m = re.match(r"^\s*#\s*include\s+(?P<what>[<\"].+[>\"])\s*$", l)
            if m:
                if m.group("what") not in include_lines:
                    include_lines.append(m.group("what"))
                block.lines[idx] = ""  # keeps the #line numbering right

    out = []

    def emit(text=""):
        out.extend(text.split("\n"))

    def emit_restore_line():
        # The next physical line is len(out) + 1; point diagnostics back at this file.
        out.append(f'#line {len(out) + 2} "{generated_name}"')

    generated_name = str(output_path).replace("\\", "/")
    emit(f"// Generated from {display_path} by tools/docs/extract-guide-snippets.py. Do not edit.")
    emit("// Each example of the guide is one test; see the script for the conventions.")
    for inc in include_lines:
        emit(f"#include {inc}")
    emit()

    quoted_path = display_path.replace("\\", "/")

    def emit_code(block):
        emit(f'#line {block.line} "{quoted_path}"')
        out.extend(block.lines)
        emit_restore_line()

    for block in blocks:
        if "prelude" in block.flags:
            emit_code(block)
            emit()

    used_names = {}
    compiled = skipped = 0
    group_requires = {}  # what a group's decl blocks need, every later block of it needs too
    for number, block in enumerate(blocks, 1):
        if "prelude" in block.flags:
            continue
        base = block.attrs.get("name") or camel(block.heading)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", base):
            raise GuideError(f"line {block.line - 1}: test name {base!r} must be alphanumeric")
        used_names[base] = used_names.get(base, 0) + 1
        name = base if used_names[base] == 1 else f"{base}{used_names[base]}"
        if "name" in block.attrs and used_names[base] > 1:
            raise GuideError(f"line {block.line - 1}: test name {base!r} used twice")
        namespace = "guide_" + re.sub(r"[^A-Za-z0-9]", "_", block.attrs.get("group", f"block{number}"))
        is_decl = "decl" in block.flags
        group = block.attrs.get("group")
        needed = list(dict.fromkeys(group_requires.get(group, []) + block.requires))
        if group and is_decl:
            group_requires[group] = needed
        missing = [f for f in needed if f not in features]
        if not is_decl and any(re.match(r"^\s*TEST(_F|_P)?\s*\(", l) for l in block.lines):
            raise GuideError(f"line {block.line - 1}: a block holding TEST()s must be marked {{decl}}")
        emit(f"// {display_path}:{block.line - 1} ({block.heading})")
        emit(f"namespace {namespace} {{")
        if missing:
            skipped += 1
            reason = ", ".join(missing)
            emit(f"TEST(Guide, {name}) {{")
            emit(f'  GTEST_SKIP() << "example at {quoted_path}:{block.line - 1} needs: {reason}";')
            emit("}")
        elif is_decl:
            compiled += 1
            emit_code(block)
        elif "norun" in block.flags:
            compiled += 1
            emit(f"[[maybe_unused]] void norun_{name}() {{")
            emit_code(block)
            emit("}")
            # A test that only states the example compiled would assert nothing;
            # norun blocks are compiled, not run, and are not tests.
        else:
            compiled += 1
            emit(f"TEST(Guide, {name}) {{")
            emit_code(block)
            emit("}")
        emit(f"}}  // namespace {namespace}")
        emit()
    return "\n".join(out) + "\n", compiled, skipped


def self_test():
    """Checks the conventions above on small guides; CTest runs it (guide-extractor)."""
    failures = []

    def expect_error(name, text, fragment):
        try:
            generate(Path("out.cpp"), parse_guide(text), set(), "g.md")
        except GuideError as error:
            if fragment not in str(error):
                failures.append(f"{name}: error {error!r} does not mention {fragment!r}")
            return
        failures.append(f"{name}: accepted, should have been refused")

    def generated(text, features=()):
        return generate(Path("out.cpp"), parse_guide(text), set(features), "g.md")

    expect_error("c++ fence", "```c++\nint x;\n```\n", "use ```cpp")
    expect_error("unknown attribute", "```cpp {decl bogus}\nint x;\n```\n", "bogus")
    expect_error("TEST outside decl", "```cpp\nTEST(A, B) {}\n```\n", "marked {decl}")
    expect_error("unclosed fence", "```cpp\nint x;\n", "never closed")
    expect_error("duplicate name", "```cpp {name=X}\n```\n```cpp {name=X}\n```\n", "used twice")

    source, compiled, skipped = generated(
        "# Heading one\n```cpp\n#include <map>\nint a = 1;\nEXPECT_EQ(a, 1);\n```\n"
        "```text\nnot compiled\n```\n"
        "## Second\n```cpp {requires=later}\nint b;\n```\n"
        "```cpp {decl group=g requires=later}\nint f();\n```\n"
        "```cpp {group=g}\nf();\n```\n")
    checks = [
        ("statements become a test named after the heading", "TEST(Guide, HeadingOne) {" in source),
        ("line directives point at the guide", '#line 3 "g.md"' in source),
        ("includes are hoisted", source.index("#include <map>") < source.index("TEST(")),
        ("text blocks are not compiled", "not compiled" not in source),
        ("a missing feature skips", 'GTEST_SKIP() << "example at g.md:11 needs: later"' in source),
        ("a group inherits its decl's requirements", "int f();" not in source and "f();" not in source),
        ("counts", (compiled, skipped) == (1, 3)),
    ]
    source, compiled, skipped = generated(
        "## Second\n```cpp {requires=later}\nint b = 0;\n```\n", features={"later"})
    checks.append(("a present feature compiles", "int b = 0;" in source and skipped == 0))
    failures += [f"{what}: failed" for what, ok in checks if not ok]
    for failure in failures:
        print(f"self-test: {failure}", file=sys.stderr)
    print(f"self-test: {len(checks) + 5 - len(failures)} of {len(checks) + 5} checks passed")
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("guide", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--features", help="comma-separated features the tree has (no probing)")
    parser.add_argument("--probe-cxx", help="C++ compiler to probe the features with")
    parser.add_argument("--probe-flags", default="-std=c++20", help="its flags, space-separated")
    parser.add_argument("--probe-include-dirs", default="",
                        help="include directories for the probes, separated by '|'")
    parser.add_argument("--display-path", help="path of the guide as diagnostics show it")
    args = parser.parse_args()
    if args.features is not None:
        features = {f for f in args.features.split(",") if f}
    elif args.probe_cxx:
        # The compiler searches the system directories anyway; naming them with -I
        # would reorder them before its own C++ headers.
        system_dirs = {"/usr/include", "/usr/local/include"}
        include_dirs = [d for d in dict.fromkeys(args.probe_include_dirs.split("|"))
                        if d and d.rstrip("/") not in system_dirs]
        features = probe_features(args.probe_cxx, args.probe_flags.split(), include_dirs)
    else:
        features = set()
    try:
        text = args.guide.read_text(encoding="utf-8")
        blocks = parse_guide(text)
        if not any("prelude" not in b.flags for b in blocks):
            raise GuideError("no ```cpp examples found; refusing to generate an empty test")
        source, compiled, skipped = generate(
            args.output, blocks, features, args.display_path or str(args.guide))
    except GuideError as error:
        print(f"{args.guide}: error: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(source, encoding="utf-8")
    print(f"extract-guide-snippets: {compiled} examples compiled, {skipped} waiting for features; "
          f"features found: {','.join(sorted(features)) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
