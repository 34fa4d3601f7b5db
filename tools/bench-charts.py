#!/usr/bin/env python3
"""Turns the benchmark JSON of tools/run-benchmarks.sh into SVG charts and tables.

Usage: tools/bench-charts.py RESULTS_DIR [--docs docs/benchmarks.md] [--charts docs/charts]

Reads RESULTS_DIR/{ops,memory,ycsb,reclaim}.json (Google Benchmark JSON; missing
files are skipped) and RESULTS_DIR/meta.json (machine, compiler, flags, commands,
written by run-benchmarks.sh). Writes:
  - docs/charts/*.svg: plain SVG written here (no matplotlib on the build machine);
  - the tables of docs/benchmarks.md between '<!-- generated:NAME -->' and
    '<!-- /generated:NAME -->' markers. Everything outside the markers (prose, and
    sections other engineers own) is left byte for byte as it was.

Each figure is the minimum over repetitions of the per-operation real time (the
least-disturbed run on a shared machine), with the median beside it; ratios are
vkv / peer on the same statistic, from the same run of the same binary.
"""

import argparse
import json
import math
import os
import re
import sys
from collections import defaultdict

SUBJECTS = ["Vkv", "Chm", "Cuckoo", "MutexMap"]
PEER_LABEL = {
    "Vkv": "vkv",
    "Chm": "tbb::concurrent_hash_map",
    "Cuckoo": "libcuckoo",
    "MutexMap": "unordered_map + shared_mutex",
}
COLORS = {"Vkv": "#1b7837", "Chm": "#2166ac", "Cuckoo": "#b2182b", "MutexMap": "#8c6d31"}
NAME_RE = re.compile(r"^BM_(?P<unit>[A-Za-z0-9]+)_(?P<scenario>[A-Za-z0-9]+)(?P<rest>.*)$")


# ---------------------------------------------------------------------------- data


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:  # e.g. a run still writing it
            print(f"bench-charts: skipping {path}: {e}", file=sys.stderr)
            return None


def to_ns(value, unit):
    return value * {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


class Stat:
    """Repetitions of one benchmark instance."""

    def __init__(self):
        self.real = []
        self.cpu = []
        self.counters = defaultdict(list)

    @property
    def min_real(self):
        return min(self.real)

    @property
    def median_real(self):
        s = sorted(self.real)
        return s[len(s) // 2]

    @property
    def min_cpu(self):
        return min(self.cpu)

    def counter(self, name, how=max):
        values = self.counters.get(name)
        return how(values) if values else None


def collect(doc):
    """name -> Stat, from the individual runs (aggregates are recomputed here)."""
    stats = defaultdict(Stat)
    if not doc:
        return stats
    skip = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
            "repetitions", "repetition_index", "threads", "iterations", "real_time",
            "cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "error_occurred",
            "error_message"}
    for b in doc.get("benchmarks", []):
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        s = stats[b.get("run_name", b["name"])]
        unit = b.get("time_unit", "ns")
        s.real.append(to_ns(b["real_time"], unit))
        s.cpu.append(to_ns(b["cpu_time"], unit))
        for k, v in b.items():
            if k not in skip and isinstance(v, (int, float)):
                s.counters[k].append(float(v))
    return stats


def parse(name):
    """'BM_Vkv_Find/100000/real_time/threads:2' -> (Vkv, Find, '100000', 2)."""
    m = NAME_RE.match(name)
    if not m:
        return None
    rest = m.group("rest")
    threads = 1
    t = re.search(r"threads:(\d+)", rest)
    if t:
        threads = int(t.group(1))
    arg = None
    a = re.match(r"^/(\d+)", rest)
    if a:
        arg = a.group(1)
    return m.group("unit"), m.group("scenario"), arg, threads


def index(stats):
    """(unit, scenario, arg, threads) -> Stat"""
    out = {}
    for name, s in stats.items():
        p = parse(name)
        if p:
            out[p] = s
    return out


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.2f µs" % (ns / 1e3)
    if ns >= 100:
        return "%.0f ns" % ns
    return "%.1f ns" % ns


def fmt_rate(r):
    if r is None:
        return "-"
    if r >= 1e6:
        return "%.2f M/s" % (r / 1e6)
    if r >= 1e3:
        return "%.0f k/s" % (r / 1e3)
    return "%.0f /s" % r


def fmt_count(n):
    return {"100000": "100k", "1000000": "1M"}.get(n, n)


# ---------------------------------------------------------------------------- SVG


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_max(value):
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def bar_chart(path, title, groups, series, values, unit_label, fmt=fmt_ns):
    """Grouped bars. values[(group, series)] -> number (or missing)."""
    width, height = 760, 380
    left, right, top, bottom = 70, 20, 40, 80
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_max(max([v for v in values.values() if v] or [1]))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{esc(title)}</text>']
    for i in range(6):
        v = top_value * i / 5
        y = top + plot_h - plot_h * i / 5
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{esc(fmt(v))}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
               f'text-anchor="middle">{esc(unit_label)}</text>')
    group_w = plot_w / max(1, len(groups))
    bar_w = group_w * 0.8 / max(1, len(series))
    for gi, g in enumerate(groups):
        gx = left + gi * group_w + group_w * 0.1
        for si, s in enumerate(series):
            v = values.get((g, s))
            if not v:
                continue
            h = plot_h * v / top_value
            x = gx + si * bar_w
            y = top + plot_h - h
            color = COLORS.get(s, "#666")
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                       f'fill="{color}"><title>{esc(s)} {esc(g)}: {esc(fmt(v))}</title></rect>')
        out.append(f'<text x="{left + gi * group_w + group_w / 2:.1f}" y="{top + plot_h + 15}" '
                   f'text-anchor="middle">{esc(g)}</text>')
    lx = left
    for s in series:
        out.append(f'<rect x="{lx}" y="{height - 30}" width="12" height="12" fill="{COLORS.get(s, "#666")}"/>')
        label = PEER_LABEL.get(s, s)
        out.append(f'<text x="{lx + 16}" y="{height - 20}">{esc(label)}</text>')
        lx += 30 + 7 * len(label)
    out.append("</svg>")
    write(path, "\n".join(out) + "\n")


def line_chart(path, title, xs, series, values, y_label, fmt=fmt_rate):
    """values[(series, x)] -> number."""
    width, height = 380, 260
    left, right, top, bottom = 60, 10, 30, 55
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_max(max([v for v in values.values() if v] or [1]))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="10">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="12">{esc(title)}</text>']
    for i in range(6):
        v = top_value * i / 5
        y = top + plot_h - plot_h * i / 5
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{esc(fmt(v))}</text>')

    def xpos(i):
        return left + (plot_w * i / max(1, len(xs) - 1))

    for i, x in enumerate(xs):
        out.append(f'<text x="{xpos(i):.1f}" y="{top + plot_h + 13}" text-anchor="middle">{esc(x)}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 26}" text-anchor="middle">{esc(y_label)}</text>')
    for s in series:
        pts = [(xpos(i), top + plot_h - plot_h * values[(s, x)] / top_value)
               for i, x in enumerate(xs) if values.get((s, x))]
        if not pts:
            continue
        color = COLORS.get(s, "#666")
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                   + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        for px, py in pts:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>')
    lx = left
    for s in series:
        out.append(f'<rect x="{lx}" y="{height - 14}" width="9" height="9" fill="{COLORS.get(s, "#666")}"/>')
        label = PEER_LABEL.get(s, s)
        out.append(f'<text x="{lx + 12}" y="{height - 6}">{esc(label.split(" ")[0])}</text>')
        lx += 22 + 6 * len(label.split(" ")[0])
    out.append("</svg>")
    write(path, "\n".join(out) + "\n")


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------- tables


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else "%.2f×" % r


OPS_SCENARIOS = ["Find", "UpdateWithVersion", "Create", "Erase", "FirstFind"]


def ops_section(ops, charts_dir, rel_charts):
    idx = index(ops)
    sizes = sorted({k[2] for k in idx if k[2] and k[0] in SUBJECTS}, key=int)
    parts = []
    for n in sizes:
        for threads in (1, 2):
            values = {}
            rows = []
            for sc in OPS_SCENARIOS:
                vkv = idx.get(("Vkv", sc, n, threads))
                if vkv is None:
                    continue
                # FirstFind is timed by hand inside the new thread; its CPU time is the
                # benchmark thread's (thread start and join), not the find's.
                cpu = "-" if sc == "FirstFind" else fmt_ns(vkv.min_cpu)
                row = [sc, fmt_ns(vkv.min_real), cpu]
                values[(sc, "Vkv")] = vkv.min_real
                for peer in SUBJECTS[1:]:
                    p = idx.get((peer, sc, n, threads))
                    if p is None:
                        row += ["-", "-"]
                        continue
                    values[(sc, peer)] = p.min_real
                    row += [fmt_ns(p.min_real), fmt_ratio(ratio(vkv.min_real, p.min_real))]
                rows.append(row)
            if not rows:
                continue
            name = f"ops-{n}-t{threads}.svg"
            bar_chart(os.path.join(charts_dir, name),
                      f"Per-operation time, {fmt_count(n)} records, {threads} thread(s) (lower is better)",
                      [r[0] for r in rows], SUBJECTS, values, "ns per operation (min real time)")
            parts.append(f"#### {fmt_count(n)} records, {threads} thread(s)\n\n![ops {n} t{threads}]({rel_charts}/{name})\n")
            parts.append(table(["operation", "vkv", "vkv (CPU)", "CHM", "vkv/CHM", "libcuckoo",
                                "vkv/cuckoo", "mutex map", "vkv/mutex"], rows) + "\n")
    # Fences and versions.
    rows = []
    for n in sizes:
        for threads in (1, 2):
            sym = idx.get(("Vkv", "FindFenceSymmetric", n, threads))
            asym = idx.get(("Vkv", "FindFenceAsymmetric", n, threads))
            if sym and asym:
                rows.append([f"find, {fmt_count(n)}", threads, fmt_ns(sym.min_real), fmt_ns(asym.min_real),
                             fmt_ratio(ratio(sym.min_real, asym.min_real))])
    for threads in (1, 2):
        sym = idx.get(("Epoch", "GuardSymmetric", None, threads))
        asym = idx.get(("Epoch", "GuardAsymmetric", None, threads))
        if sym and asym:
            rows.append(["empty Guard", threads, fmt_ns(sym.min_real), fmt_ns(asym.min_real),
                         fmt_ratio(ratio(sym.min_real, asym.min_real))])
    if rows:
        parts.append("#### Epoch read side: symmetric vs asymmetric fence\n")
        parts.append(table(["what", "threads", "symmetric", "asymmetric", "sym/asym"], rows) + "\n")
    rows = []
    for sc, label in (("Generate", "vkv detail::next_version()"),
                      ("BoostMt19937", "boost::uuids::random_generator_mt19937"),
                      ("BoostRandom", "boost::uuids::random_generator (OS entropy per call)"),
                      ("SharedCounter", "one shared atomic counter (fetch_add)")):
        for threads in (1, 2):
            s = idx.get(("Version", sc, None, threads))
            if s:
                rows.append([label, threads, fmt_ns(s.min_real), fmt_ns(s.median_real), fmt_ns(s.min_cpu)])
    if rows:
        parts.append("#### Version generation\n")
        parts.append(table(["generator", "threads", "min real", "median real", "min CPU"], rows) + "\n")
    return "\n".join(parts)


def verdict(real, cpu, goal):
    """On a loaded machine real time and CPU time can disagree; say which met the goal."""
    ok_real = real is not None and real <= goal
    ok_cpu = cpu is not None and cpu <= goal
    if ok_real and ok_cpu:
        return "met"
    if ok_real or ok_cpu:
        return "met by " + ("real" if ok_real else "CPU") + " time only"
    return "missed"


def targets_section(ops, memory):
    idx = index(ops)
    midx = index(memory)
    rows = []
    for n in sorted({k[2] for k in idx if k[2] and k[0] == "Vkv"}, key=int):
        for threads in (1, 2):
            for sc, goal, what in (("Find", 1.10, "find / CHM find+copy"),
                                   ("UpdateWithVersion", 1.5, "update_with_version / CHM accessor assign")):
                v, c = idx.get(("Vkv", sc, n, threads)), idx.get(("Chm", sc, n, threads))
                if v and c:
                    r = ratio(v.min_real, c.min_real)
                    rc = ratio(v.min_cpu, c.min_cpu)
                    rows.append([what, f"{fmt_count(n)}, {threads}t", f"≤ {goal:.2f}×", fmt_ratio(r),
                                 fmt_ratio(rc), verdict(r, rc, goal)])
    for threads in (1, 2):
        s = idx.get(("Version", "Generate", None, threads))
        if s:
            rows.append(["version generation", f"{threads}t", "≤ 10 ns", fmt_ns(s.min_real),
                         fmt_ns(s.min_cpu), verdict(s.min_real, s.min_cpu, 10)])
    for key in sorted(k for k in midx if k[0] == "Vkv" and k[1] == "BytesPerRecord"):
        v = midx[key]
        c = midx.get(("Chm", "BytesPerRecord", key[2], key[3]))
        if c:
            r = ratio(v.counter("heap_bytes_per_record"), c.counter("heap_bytes_per_record"))
            rr = ratio(v.counter("rss_bytes_per_record"), c.counter("rss_bytes_per_record"))
            rows.append(["bytes per record / CHM's", fmt_count(key[2]), "≤ 1.30×", fmt_ratio(r),
                         fmt_ratio(rr) + " (RSS)", "met" if r is not None and r <= 1.3 else "missed"])
    if not rows:
        return "(no results)"
    return table(["target", "where", "goal", "measured (min real)", "CPU time / RSS", "verdict"], rows) + "\n"


def memory_section(memory, charts_dir, rel_charts):
    idx = index(memory)
    rows, values = [], {}
    chm = None
    for key, s in idx.items():
        if key[0] == "Chm" and key[1] == "BytesPerRecord":
            chm = s
    for subject in SUBJECTS:
        for key, s in sorted(idx.items(), key=lambda kv: str(kv[0])):
            if key[0] != subject or key[1] != "BytesPerRecord":
                continue
            heap = s.counter("heap_bytes_per_record")
            rss = s.counter("rss_bytes_per_record")
            values[("heap (mallinfo2)", subject)] = heap
            values[("RSS", subject)] = rss
            r = ratio(heap, chm.counter("heap_bytes_per_record")) if chm else None
            rows.append([PEER_LABEL[subject], fmt_count(key[2]), "%.1f" % heap, "%.1f" % rss,
                         fmt_ratio(r), "%.0f ms" % (s.min_real / 1e6)])
    parts = []
    if rows:
        bar_chart(os.path.join(charts_dir, "memory.svg"), "Bytes per record (lower is better)",
                  ["heap (mallinfo2)", "RSS"], SUBJECTS, values, "bytes per record",
                  fmt=lambda v: "%.0f" % v)
        parts.append(f"![memory]({rel_charts}/memory.svg)\n")
        parts.append(table(["store", "records", "heap B/record", "RSS B/record", "heap vs CHM",
                            "build time (1 thread)"], rows) + "\n")
    rows = []
    for key, s in sorted(idx.items(), key=lambda kv: (kv[0][1], kv[0][3])):
        if key[1] not in ("RetiredUnderUpdateStorm", "RetiredUnderSharedStorm"):
            continue
        rows.append([key[1].replace("RetiredUnder", ""), key[3],
                     "%.1f KiB" % (s.counter("peak_pending_bytes") / 1024),
                     "%.1f KiB" % (s.counter("peak_pending_bytes_per_thread") / 1024),
                     "%.1f KiB" % (s.counter("mean_pending_bytes", how=lambda v: sum(v) / len(v)) / 1024),
                     fmt_rate(s.counter("goodput"))])
    if rows:
        parts.append("#### Retired (not yet freed) node memory under an update storm\n")
        parts.append(table(["storm", "threads", "peak pending", "peak per thread", "mean pending",
                            "goodput"], rows) + "\n")
    return "\n".join(parts) or "(no results)"


def ycsb_section(ycsb, charts_dir, rel_charts):
    thread_counts = sorted({parse(n)[3] for n in ycsb if parse(n)})
    parts, rows = [], []
    for workload in ("A", "B", "C", "F"):
        for dist in ("Uniform", "Zipfian"):
            values = {}
            for subject in SUBJECTS:
                for t in thread_counts:
                    s = ycsb.get(f"BM_{subject}_Ycsb{workload}_{dist}/real_time/threads:{t}")
                    if s:
                        values[(subject, t)] = s.counter("goodput")
            if not values:
                continue
            name = f"ycsb-{workload}-{dist.lower()}.svg"
            line_chart(os.path.join(charts_dir, name), f"YCSB {workload}, {dist.lower()}: goodput",
                       thread_counts, SUBJECTS, values, "threads")
            parts.append(f"![ycsb {workload} {dist}]({rel_charts}/{name})")
            for t in thread_counts:
                v = values.get(("Vkv", t))
                row = [workload, dist.lower(), t, fmt_rate(v)]
                for peer in SUBJECTS[1:]:
                    p = values.get((peer, t))
                    row += [fmt_rate(p), fmt_ratio(ratio(v, p))]
                rows.append(row)
    if not rows:
        return "(no results)"
    return ("\n".join(parts) + "\n\n" +
            table(["workload", "keys", "threads", "vkv goodput", "CHM", "vkv/CHM", "libcuckoo",
                   "vkv/cuckoo", "mutex map", "vkv/mutex"], rows) + "\n")


def reclaim_section(reclaim):
    idx = index(reclaim)
    labels = [
        (("Epoch", "GuardedLoadAsymmetric"), "epoch Guard + load (asymmetric fence)"),
        (("Epoch", "GuardedLoadSymmetric"), "epoch Guard + load (symmetric fence)"),
        (("HazardPointer", "ProtectedLoad"), "hazard pointer protect + load"),
        (("SharedPtr", "AtomicLoad"), "std::atomic_load(shared_ptr)"),
        (("Epoch", "RetireAsymmetric"), "new + retire (asymmetric), amortised free"),
        (("Epoch", "RetireSymmetric"), "new + retire (symmetric), amortised free"),
        (("Delete", "Immediate"), "new + delete (the floor)"),
        (("Epoch", "TryAdvanceAsymmetric"), "try_advance (membarrier)"),
        (("Epoch", "TryAdvanceSymmetric"), "try_advance (fence)"),
    ]
    rows = []
    for (unit, sc), label in labels:
        for t in (1, 2):
            s = idx.get((unit, sc, None, t))
            if s:
                rows.append([label, t, fmt_ns(s.min_real), fmt_ns(s.median_real), fmt_ns(s.min_cpu)])
    if not rows:
        return "(no results)"
    return table(["operation", "threads", "min real", "median real", "min CPU"], rows) + "\n"


def meta_section(meta):
    if not meta:
        return "(no meta.json)"
    lines = [f"- **Machine**: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, "
             f"{meta.get('memory', '?')} RAM; {meta.get('os', '?')}",
             f"- **Load average when the run started**: {meta.get('load', '?')} "
             "(the machine is shared; see \"Reading the numbers\")",
             f"- **Compiler**: {meta.get('compiler', '?')}",
             f"- **Flags**: {meta.get('flags', '?')}",
             f"- **Date**: {meta.get('date', '?')}, commit {meta.get('commit', '?')}",
             "- **Commands**:", ""]
    cwd = os.getcwd().rstrip("/") + "/"
    for c in meta.get("commands", []):
        lines.append(f"      {c.replace(cwd, '')}")
    return "\n".join(lines) + "\n"


def splice(doc_text, name, body):
    begin, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    i, j = doc_text.find(begin), doc_text.find(end)
    if i < 0 or j < 0 or j < i:
        print(f"bench-charts: no '{begin}' ... '{end}' markers; section {name} not written",
              file=sys.stderr)
        return doc_text
    return doc_text[: i + len(begin)] + "\n" + body.rstrip() + "\n" + doc_text[j:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--docs", default="docs/benchmarks.md")
    ap.add_argument("--charts", default="docs/charts")
    args = ap.parse_args()

    ops = collect(load(os.path.join(args.results, "ops.json")))
    memory = collect(load(os.path.join(args.results, "memory.json")))
    ycsb = collect(load(os.path.join(args.results, "ycsb.json")))
    reclaim = collect(load(os.path.join(args.results, "reclaim.json")))
    meta = load(os.path.join(args.results, "meta.json"))
    rel = os.path.relpath(os.path.abspath(args.charts), os.path.dirname(os.path.abspath(args.docs)))

    sections = {
        "setup": meta_section(meta),
        "targets": targets_section(ops, memory),
        "ops": ops_section(ops, args.charts, rel),
        "memory": memory_section(memory, args.charts, rel),
        "ycsb": ycsb_section(ycsb, args.charts, rel),
        "reclaim": reclaim_section(reclaim),
    }
    if not os.path.exists(args.docs):
        print(f"bench-charts: {args.docs} does not exist; printing the sections", file=sys.stderr)
        for k, v in sections.items():
            print(f"## {k}\n\n{v}\n")
        return 0
    with open(args.docs) as f:
        text = f.read()
    for name, body in sections.items():
        text = splice(text, name, body)
    with open(args.docs, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
