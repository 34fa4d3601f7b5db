#!/usr/bin/env python3
"""Turns one run of tools/run-benchmarks.sh into the figures of docs/benchmarks.md and
docs/choosing.md: SVG charts (matplotlib) in <docs>/charts/ and the text between
'<!-- generated:NAME begin -->' and '<!-- generated:NAME end -->' in both pages.
Everything outside those markers is left as it was; nothing inside them is hand-written.

    tools/bench-charts.py RESULTS_DIR [--docs DIR]      (default DIR: docs/)

RESULTS_DIR holds Google Benchmark JSON (<binary>.json; memory-*.json are merged) and
meta.json (provenance, written by run-benchmarks.sh). Tables are data-driven by name,
BM_<Unit>_<Scenario>[/<arg>...][/<key>:<value>...]/threads:<n>:
  - a Scenario measured for Vkv and for peers (Chm, Cuckoo, MutexMap) becomes rows of
    the comparison tables, ratio vkv / peer, per record count (first arg) and threads;
    the figure is the median over repetitions of the real time per operation, or of the
    'goodput' counter when the benchmark has one;
  - anything else is listed in its binary's 'measurements' table;
  - contention cells (BM_Contention/<strategy>/<key>:<value>|<word>/..., or rows of a
    contention*.csv with a 'strategy' column) are read by column name: each name
    segment or CSV column that is not a metric is a dimension and becomes a table
    column; metrics are goodput, conflict_rate and lat_p<q>_ns (any q).
"""
import argparse, csv, glob, json, math, os, re, statistics as st, sys
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

PEERS = {"Chm": "CHM", "Cuckoo": "libcuckoo", "MutexMap": "mutex map"}
LABEL = {"Vkv": "vkv", **PEERS}
COLOR = {"Vkv": "#1b7837", "Chm": "#2166ac", "Cuckoo": "#b2182b", "MutexMap": "#8c6d31"}
DEFAULT, BASELINE, ADAPTIVE = "full-jitter", "pessimistic", "adaptive"  # contention strategies
NOT_OPTIMISTIC = (BASELINE, ADAPTIVE, "pessimistic-unversioned")
GRID_DEFAULT = ("full-jitter", "500", "50000")  # RetryPolicy's defaults: shape, base, cap (ns)
METRIC = re.compile(r"^(goodput|conflict_rate|retries_.*|lat_.*|committed|gave_up|turns|.*_per_s)$")
# Issue 11's targets: (label, scenario, peer unit, {records or None: goal}, "<=" or ">=",
# threads or None for all). Ratios are vkv / peer, as in the comparison tables.
TARGETS = [("visit / CHM read in place", "Visit", "Chm", {"10000": 0.8, "1000000": 1.1}, "<=", None),
           ("find / CHM find + copy", "Find", "Chm", {None: 1.10}, "<=", None),
           ("update_with_version / CHM accessor assign", "UpdateWithVersion", "Chm", {None: 1.5}, "<=", None),
           ("YCSB C zipfian (reads only): goodput / CHM", "YcsbC_Zipfian", "Chm", {None: 1.3}, ">=", 2)]


# ------------------------------------------------------------------ data

def parse_name(name):
    """'BM_Vkv_Find/100000/real_time/threads:2' -> ('Vkv', 'Find', ('100000',), {}, 2)."""
    head, *segs = name.split("/")
    m = re.match(r"BM_([A-Za-z0-9]+)_?(.*)$", head)
    unit, scenario = (m.group(1), m.group(2)) if m else (head, "")
    args, named, threads = [], {}, 1
    for s in segs:
        key, sep, value = s.partition(":")
        if s in ("real_time", "manual_time", "process_time") or key in ("iterations", "repeats"):
            continue
        if key == "threads":
            threads = int(value)
        elif sep:
            named[key] = value
        else:
            args.append(s)
    return unit, scenario, tuple(args), named, threads


class Bench:
    """The repetitions of one benchmark instance."""

    def __init__(self, name):
        self.name, self.runs = name, []
        self.unit, self.scenario, self.args, self.named, self.threads = parse_name(name)

    def values(self, metric):
        if metric in ("real", "cpu"):
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
            return [r[metric + "_time"] * scale[r.get("time_unit", "ns")] for r in self.runs]
        return [r[metric] for r in self.runs if metric in r]

    def median(self, metric):
        v = self.values(metric)
        return st.median(v) if v else None

    def spread(self, metric):
        v, m = self.values(metric), self.median(metric)
        return (max(v) - min(v)) / m if v and m else 0.0

    def metric(self):
        return "goodput" if self.values("goodput") else "real"


def load(results):
    files = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        stem = os.path.basename(path)[:-5]
        if stem == "meta":
            continue
        for b in json.load(open(path)).get("benchmarks", []):
            if b.get("run_type") == "aggregate" or b.get("error_occurred"):
                continue
            group = "memory" if stem.startswith("memory") else stem
            name = b.get("run_name", b["name"])
            files[group].setdefault(name, Bench(name)).runs.append(b)
    return files


# ------------------------------------------------------------------ formatting

def f_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def f_rate(x):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}/s"
    return f"{x:.3g} /s"


def f_value(x, metric):
    return "–" if x is None else f_rate(x) if metric == "goodput" else f_ns(x)


def f_ratio(x):
    return "–" if x is None or not math.isfinite(x) else f"{x:.2f}×"


def f_records(a):
    n = int(a)
    return f"{n // 1000000}M" if n >= 1000000 and n % 1000000 == 0 else f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else a


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def column(args, threads):
    return "/".join([f_records(args[0]) if args and args[0].isdigit() else "/".join(args)] * bool(args) + [f"{threads}t"])


# ------------------------------------------------------------------ charts

class Charts:
    def __init__(self, directory, link):
        self.dir, self.link, self.made = directory, link, []
        os.makedirs(directory, exist_ok=True)

    def save(self, fig, name, alt):
        fig.tight_layout()
        fig.savefig(os.path.join(self.dir, name + ".svg"), format="svg", metadata={"Date": None})
        plt.close(fig)
        self.made.append(name + ".svg")
        return f"![{alt}]({self.link}/{name}.svg)\n\n"

    def bars(self, name, alt, panels, ylabel, log=False, hline=None):
        """panels: [(title, categories, {series: [value or None]})]."""
        cols = min(3, len(panels))
        fig, axes = plt.subplots((len(panels) + cols - 1) // cols, cols, squeeze=False,
                                 figsize=(4.2 * cols, 3.0 * ((len(panels) + cols - 1) // cols)))
        for ax, (title, cats, series) in zip(axes.flat, panels):
            width = 0.8 / max(1, len(series))
            for i, (label, vals) in enumerate(series.items()):
                xs = [j + i * width for j, v in enumerate(vals) if v is not None]
                ax.bar(xs, [v for v in vals if v is not None], width, label=LABEL.get(label, label),
                       color=COLOR.get(label))
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cats))], cats, fontsize=7, rotation=30)
            ax.set_title(title, fontsize=9)
            ax.set_ylabel(ylabel, fontsize=8)
            if log:
                ax.set_yscale("log")
                for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                    axis(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
            if hline is not None:
                ax.axhline(hline, color="black", linewidth=0.8)
        axes.flat[0].legend(fontsize=7)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        return self.save(fig, name, alt)

    def heatmap(self, name, alt, rows, cols, value, title):
        """value(row, col) -> ratio or None; coloured on a log scale around 1."""
        grid = [[value(r, c) for c in cols] for r in rows]
        fig, ax = plt.subplots(figsize=(max(4.5, 2.5 + 0.7 * len(cols)), 1.0 + 0.26 * len(rows)))
        data = [[math.log2(v) if v else float("nan") for v in line] for line in grid]
        ax.imshow(data, cmap="RdYlGn", vmin=-2, vmax=2, aspect="auto")
        for i, line in enumerate(grid):
            for j, v in enumerate(line):
                if v:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(cols)), cols, fontsize=8)
        ax.set_xlabel("threads", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.set_title(title, fontsize=9)
        return self.save(fig, name, alt)


# ------------------------------------------------------------------ comparisons vkv / peers

def comparisons(benches):
    """(scenario, args, threads) -> {unit: Bench}, for scenarios that vkv and a peer share."""
    groups = defaultdict(dict)
    for b in benches.values():
        if b.unit in LABEL:
            groups[(b.scenario, b.args, b.threads)][b.unit] = b
    return {k: g for k, g in groups.items() if "Vkv" in g and len(g) > 1}


def ratio(g, peer):
    if peer not in g:
        return None
    metric = g["Vkv"].metric()
    v, p = g["Vkv"].median(metric), g[peer].median(metric)
    return v / p if v and p else None


def sort_key(k):
    scenario, args, threads = k
    return ([int(a) if a.isdigit() else a for a in args], threads)


def compare_blocks(benches, charts, stem, what):
    """The ratio matrices (one per peer) and the absolute table with its chart."""
    groups = comparisons(benches)
    if not groups:
        return None, None
    scenarios = list(dict.fromkeys(k[0] for k in sorted(groups, key=sort_key)))
    cols = sorted({(k[1], k[2]) for k in groups}, key=lambda c: sort_key((None, *c)))
    peers = [p for p in PEERS if any(p in g for g in groups.values())]
    metric = next(iter(groups.values()))["Vkv"].metric()
    sense = "goodput, vkv / peer: above 1 vkv is faster" if metric == "goodput" else \
        "time per operation, vkv / peer: below 1 vkv is faster"
    ratios = f"Median {sense}.\n\n"
    for p in peers:
        rows = [[s] + [f_ratio(ratio(groups[(s, *c)], p)) if (s, *c) in groups else "–" for c in cols]
                for s in scenarios]
        ratios += f"**vkv / {PEERS[p]}**\n\n" + table([what] + [column(*c) for c in cols], rows) + "\n\n"
    ratios += charts.bars(f"{stem}-ratios", f"{stem}: vkv / peer", [
        (f"vkv / {PEERS[p]}", scenarios,
         {column(*c): [ratio(groups[(s, *c)], p) if (s, *c) in groups else None for s in scenarios] for c in cols})
        for p in peers], "vkv / peer", log=True, hline=1.0)
    cpu = ["vkv CPU"] if metric == "real" else []
    header = [what, "records/threads" if groups and next(iter(groups))[1] else "threads", "vkv"] + cpu + sum([[PEERS[p], f"vkv/{PEERS[p]}"] for p in peers], []) + ["spread"]
    rows = []
    for k in sorted(groups, key=lambda k: (scenarios.index(k[0]), sort_key(k))):
        g, v = groups[k], groups[k]["Vkv"]
        row = [k[0], column(k[1], k[2]), f_value(v.median(metric), metric)] + [f_ns(v.median("cpu"))] * bool(cpu)
        for p in peers:
            row += [f_value(g[p].median(metric), metric) if p in g else "–", f_ratio(ratio(g, p))]
        rows.append(row + [f"{max(b.spread(metric) for b in g.values()):.0%}"])
    absolute = table(header, rows) + "\n\n" + charts.bars(
        stem, f"{stem}: absolute", [(s, [column(*c) for c in cols if (s, *c) in groups],
                                     {u: [groups[(s, *c)][u].median(metric) if u in groups[(s, *c)] else None
                                          for c in cols if (s, *c) in groups] for u in LABEL})
                                    for s in scenarios],
        "goodput (ops/s)" if metric == "goodput" else "ns per operation", log=True)
    for g in groups.values():
        for b in g.values():
            b.used = True
    return ratios, absolute


def measurements(benches):
    """Everything no other table showed: median real and CPU time, spread, counters."""
    rows = []
    for b in benches.values():
        if getattr(b, "used", False):
            continue
        counters = {k: b.median(k) for k in b.runs[0] if isinstance(b.runs[0][k], (int, float))
                    and k not in ("family_index", "per_family_instance_index", "repetitions", "repetition_index",
                                  "threads", "iterations", "real_time", "cpu_time", "items_per_second")}
        rows.append([f"`{b.name}`", f_ns(b.median("real")), f_ns(b.median("cpu")), f"{b.spread('real'):.0%}",
                     ", ".join(f"{k} {v:.4g}" for k, v in counters.items())])
    return table(["benchmark", "real", "CPU", "spread", "counters (median)"], rows) if rows else None


# ------------------------------------------------------------------ memory, transactions

def memory_block(benches, charts):
    per = {b.unit: b for b in benches.values() if b.scenario == "BytesPerRecord"}
    if not per:
        return None
    base = per.get("Chm")
    rows = [[LABEL.get(u, u), f_records(b.args[0]) if b.args else "–", f"{b.median('heap_bytes_per_record'):.1f}",
             f"{b.median('rss_bytes_per_record'):.1f}",
             f_ratio(b.median("heap_bytes_per_record") / base.median("heap_bytes_per_record")) if base else "–",
             f_ns(b.median("real"))] for u, b in per.items()]
    for b in per.values():
        b.used = True
    text = table(["store", "records", "heap B/record", "RSS B/record", "heap / CHM", "build time (1 thread)"], rows)
    storms = [b for b in benches.values() if b.values("peak_pending_bytes")]
    for b in storms:
        b.used = True
    kib = lambda b, k: f"{(b.median(k) or 0) / 1024:.1f} KiB"  # noqa: E731
    text += "\n\nRetired, not yet freed, node memory under an update storm:\n\n" + table(
        ["storm", "threads", "peak pending", "peak per thread", "mean pending", "goodput"],
        [[b.scenario, b.threads, kib(b, "peak_pending_bytes"), kib(b, "peak_pending_bytes_per_thread"),
          kib(b, "mean_pending_bytes"), f_rate(b.median("goodput") or 0)] for b in storms]) if storms else ""
    return text + "\n\n" + charts.bars("memory", "bytes per record", [
        ("bytes per record", ["heap", "RSS"], {u: [b.median("heap_bytes_per_record"), b.median("rss_bytes_per_record")]
                                                for u, b in per.items()})], "bytes")


def transaction_block(benches, charts):
    by = defaultdict(dict)
    for b in benches.values():
        by[(b.unit, b.scenario)][b.args or (str(b.threads),)] = b
    commit, single = by.get(("Commit", "Uncontended"), {}), by.get(("SingleWrites", "Uncontended"), {})
    opt, mutex = by.get(("Transfer", "Optimistic"), {}), by.get(("Transfer", "MutexPerAccount"), {})
    if not (commit or opt):
        return None
    text, panels = "", []
    if commit:
        keys = sorted(commit, key=lambda a: int(a[0]))
        per = lambda g, k: g[k].median("real") / int(k[0]) if k in g else None  # noqa: E731
        text += table(["entries", "commit, per record", "single writes, per record", "commit / single writes"],
                      [[k[0], f_ns(per(commit, k)), f_ns(per(single, k)) if k in single else "–",
                        f_ratio(per(commit, k) / per(single, k)) if k in single else "–"] for k in keys]) + "\n\n"
        panels.append(("per record written", [k[0] + " entries" for k in keys],
                       {"commit": [per(commit, k) for k in keys], "single writes": [per(single, k) for k in keys]}))
    if opt:
        keys = sorted(opt, key=lambda a: int(a[0]))
        rate = lambda g, k: g[k].median("transfers_per_s") if k in g else None  # noqa: E731
        text += table(["threads", "optimistic commit", "mutex per account", "optimistic / mutex", "conflict rate"],
                      [[k[0], f_rate(rate(opt, k)), f_value(rate(mutex, k), "goodput"),
                        f_ratio(rate(opt, k) / rate(mutex, k)) if k in mutex else "–",
                        f"{opt[k].median('conflict_rate') or 0:.1%}"] for k in keys]) + "\n\n"
        panels.append(("transfers per second", [k[0] + " threads" for k in keys],
                       {"optimistic": [rate(opt, k) for k in keys], "mutex": [rate(mutex, k) for k in keys]}))
    for g in (commit, single, opt, mutex):
        for b in g.values():
            b.used = True
    return text + charts.bars("transactions", "commit and transfers", panels, "ns / records/s", log=True)


# ------------------------------------------------------------------ contention sweep and grid

def contention_rows(files, results, family):
    """Dicts of dimensions and metrics, one per cell: from JSON names and counters, or CSV."""
    rows = []
    for benches in files.values():
        for b in benches.values():
            if b.name.split("/")[0] != family:
                continue
            b.used = True
            strategy, *segs = [s for s in b.name.split("/")[1:] if s not in ("real_time", "manual_time")
                               and not s.startswith(("iterations:", "repeats:"))]
            row = {"strategy": strategy}
            for i, seg in enumerate(segs):
                key, sep, value = seg.partition(":")
                row[key if sep else "distribution" if seg in ("uniform", "zipf", "zipfian") else f"arg{i}"] = \
                    value if sep else seg
            row.update({k: b.median(k) for k in b.runs[0] if METRIC.match(k)})
            rows.append(row)
    stem = family.lower().removeprefix("bm_")
    for path in glob.glob(os.path.join(results, f"{stem}*.csv")):
        if path.endswith("-cells.csv"):
            continue
        for r in csv.DictReader(open(path)):
            rows.append({k: (float(v) if METRIC.match(k) and v else v) for k, v in r.items()})
    if rows:  # every cell, every column, for whoever wants more than the tables
        cols = list(dict.fromkeys(k for r in rows for k in r))
        with open(os.path.join(results, f"{stem}-cells.csv"), "w", newline="") as f:
            csv.DictWriter(f, cols).writeheader() or csv.DictWriter(f, cols).writerows(rows)
    return rows


def dims_of(rows, drop=()):
    return [k for k in dict.fromkeys(k for r in rows for k in r) if not METRIC.match(k) and k not in drop]


def cells(rows, dims):
    """cell (dimension values) -> {strategy: row}, threads varying fastest."""
    out, order = defaultdict(dict), {}
    for r in rows:
        cell = tuple(r.get(d, "") for d in dims)
        out[cell][r["strategy"]] = r
        order.setdefault(tuple(c for d, c in zip(dims, cell) if d != "threads"), len(order))
    key = lambda cell: (order[tuple(c for d, c in zip(dims, cell) if d != "threads")],  # noqa: E731
                        int(dict(zip(dims, cell)).get("threads") or 0))
    return {cell: out[cell] for cell in sorted(out, key=key)}


def div(a, b):
    return a / b if a and b else None


def is_zero_window(cell, dims):
    return all(re.sub(r"[^0-9.]", "", cell[i]) in ("", "0") for i, d in enumerate(dims) if d.startswith("window"))


def contention_blocks(rows, charts):
    dims = dims_of(rows, ("strategy",))
    table_cells = cells(rows, dims)
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    optimistic = [s for s in strategies if s not in NOT_OPTIMISTIC]
    sweep, latency, summary = [], [], defaultdict(list)
    lat_keys = sorted({k for r in rows for k in r if re.match(r"lat_p\d+_ns$", k)}, key=lambda k: int(k[5:-3]))
    for cell, by in table_cells.items():
        base = by.get(BASELINE, {}).get("goodput")
        best = max(optimistic, key=lambda s: by.get(s, {}).get("goodput") or 0, default=None)
        g = {s: by.get(s, {}).get("goodput") for s in strategies}
        sweep.append(list(cell) + [f"{g[s] / 1e6:.2f}" if g[s] else "–" for s in strategies]
                     + [f_ratio(div(g.get(DEFAULT), base)), f_ratio(div(g.get(best), base)) + f" ({best})",
                        f_ratio(div(g.get(ADAPTIVE), max(g.get(best) or 0, base or 0))),
                        f"{by.get(DEFAULT, {}).get('conflict_rate') or 0:.1%}"])
        latency.append(list(cell) + [" / ".join(f"{by[s][k] / 1e3:.3g}" if by.get(s, {}).get(k) else "–" for k in lat_keys)
                                     for s in (DEFAULT, ADAPTIVE, BASELINE)]
                       + [f_ratio(div(by.get(DEFAULT, {}).get("lat_p99_ns"), by.get(BASELINE, {}).get("lat_p99_ns")))])
        group = tuple(c for d, c in zip(dims, cell) if d.startswith("window") or d == "writes")
        summary[group].append((div(g.get(DEFAULT), base), div(g.get(ADAPTIVE), base)))
    q = "/".join(k[4:-3] for k in lat_keys)
    sweep_text = table(dims + [f"{s} (M/s)" for s in strategies] +
                       [f"{DEFAULT} / {BASELINE}", f"best optimistic / {BASELINE}", "adaptive / best of both",
                        f"conflicts ({DEFAULT})"], sweep)
    lat_text = table(dims + [f"{s} {q} (µs)" for s in (DEFAULT, ADAPTIVE, BASELINE)] + [f"p99 {DEFAULT} / {BASELINE}"], latency)
    rest = [d for d in dims if d != "threads"]
    row_names = list(dict.fromkeys(" ".join(f"{d}:{c}" if not d.startswith(("arg", "distribution")) else c for d, c in zip(dims, cell)
                                            if d != "threads") for cell in table_cells))
    threads = sorted({r["threads"] for r in rows}, key=int)

    def lookup(row, t, metric, a, b):
        for cell, by in table_cells.items():
            if dict(zip(dims, cell)).get("threads") == t and \
                    " ".join(f"{d}:{c}" if not d.startswith(("arg", "distribution")) else c for d, c in zip(dims, cell) if d != "threads") == row:
                return div(by.get(a, {}).get(metric), by.get(b, {}).get(metric))
    if rest and "threads" in dims:
        sweep_text = charts.heatmap("contention", "goodput ratio", row_names, threads,
                                    lambda r, t: lookup(r, t, "goodput", DEFAULT, BASELINE),
                                    f"goodput, {DEFAULT} / {BASELINE}") + sweep_text
        lat_text = charts.heatmap("latency", "p99 ratio", row_names, threads,
                                  lambda r, t: lookup(r, t, "lat_p99_ns", BASELINE, DEFAULT),
                                  f"p99 latency, {BASELINE} / {DEFAULT}") + lat_text
    sdims = [d for d in dims if d.startswith("window") or d == "writes"]
    srows = []
    for group, pairs in sorted(summary.items()):
        for label, i in ((DEFAULT, 0), (ADAPTIVE, 1)):
            vals = [p[i] for p in pairs if p[i]]
            if vals:
                srows.append(list(group) + [label, f"{sum(v >= 1 for v in vals)} of {len(vals)}",
                                            f_ratio(st.median(vals)), f_ratio(min(vals)), f_ratio(max(vals))])
    summary_text = table(sdims + ["strategy", f"cells ≥ {BASELINE}", "median", "worst", "best"], srows)
    return sweep_text, lat_text, summary_text


def grid_block(rows):
    settings = defaultdict(dict)
    for r in rows:
        setting = (r["strategy"], r.get("base_ns", "?"), r.get("cap_ns", "?"))
        settings[setting][tuple((k, v) for k, v in r.items() if k not in ("strategy", "base_ns", "cap_ns")
                                and not METRIC.match(k))] = r.get("goodput") or 0
    best = defaultdict(float)
    for cells_ in settings.values():
        for cell, g in cells_.items():
            best[cell] = max(best[cell], g)
    score = {s: math.exp(st.mean(math.log(max(g, 1e-9) / best[c]) for c, g in cs.items())) for s, cs in settings.items()}
    knobs = []
    for i, knob in enumerate(("shape", "base delay (ns)", "cap (ns)")):
        values = sorted({s[i] for s in score}, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else v))
        knobs.append([knob, " / ".join(values), " / ".join(f"{st.mean(x for s, x in score.items() if s[i] == v):.3f}"
                                                          for v in values)])
    ranked = sorted(score, key=score.get, reverse=True)
    top = [[i + 1, *s, f"{score[s]:.3f}"] for i, s in enumerate(ranked[:5])]
    if GRID_DEFAULT in score:
        top.append([ranked.index(GRID_DEFAULT) + 1, *GRID_DEFAULT, f"{score[GRID_DEFAULT]:.3f} (the default)"])
    return (f"Score of a setting: geometric mean over the {len(best)} cells of its goodput / the best goodput in "
            f"that cell (1 = best everywhere); {len(score)} settings.\n\n"
            + table(["knob", "values", "mean score"], knobs) + "\n\n" + table(["rank", "shape", "base (ns)", "cap (ns)", "score"], top))


# ------------------------------------------------------------------ targets, provenance, pages

def targets_block(files):
    groups = {}
    for benches in files.values():
        groups.update(comparisons(benches))
    rows = []
    for label, scenario, peer, goals, sense, threads in TARGETS:
        found = [k for k in sorted(groups, key=sort_key)
                 if k[0] == scenario and peer in groups[k] and threads in (None, k[2])]
        for k in found:
            goal = goals.get(k[1][0] if k[1] else None, goals.get(None))
            if goal is None:
                continue
            r = ratio(groups[k], peer)
            met = r is not None and (r <= goal if sense == "<=" else r >= goal)
            rows.append([label, column(k[1], k[2]), f"{sense} {goal}×", f_ratio(r), "met" if met else "**missed**"])
        if not found:
            rows.append([label, "–", f"{sense} {list(goals.values())[0]}×", "not measured", "–"])
    return table(["target", "records/threads", "goal", "measured", "verdict"], rows)


def provenance(meta, command=None):
    tree = "clean tree" if not meta["dirty"] else "**uncommitted changes in " + ", ".join(meta["dirty"]) + "**"
    line = (f"*Generated by `{meta['invocation']}` from commit `{meta['commit']}` ({tree}), {meta['date']}; "
            f"{meta['nproc']} × {meta['cpu']}, load {meta['load_before']} → {meta['load_after']}"
            f"{'; **smoke run: the figures mean nothing**' if meta['smoke'] else ''}.*")
    return line + (f"\n\n    {command}" if command else "")


def setup_block(meta):
    return "\n".join([
        f"- **Command**: `{meta['invocation']}` ({meta['seconds']} s of benchmarks)",
        f"- **Commit**: `{meta['commit']}` ({meta['commit_date']}), "
        + ("clean tree" if not meta["dirty"] else "uncommitted changes in " + ", ".join(meta["dirty"])),
        f"- **Machine**: {meta['nproc']} × {meta['cpu']}, {meta['memory_gib']} GiB; {meta['os']}",
        f"- **Load average** (1, 5, 15 min): {meta['load_before']} before, {meta['load_after']} after",
        f"- **Compiler**: {meta['compiler']}; **build**: {meta['build_type']}, `{meta['flags']}` ({meta['build_dir']})",
        f"- **Date**: {meta['date']}" + ("; **smoke run**" if meta["smoke"] else ""),
        "- **Commands**, in order:", ""] + [f"      {c}" for c in meta["commands"]])


def rewrite(path, blocks):
    text = open(path).read()
    pattern = re.compile(r"(<!-- generated:([\w-]+) begin -->\n).*?(<!-- generated:\2 end -->)", re.S)
    seen = set()

    def fill(m):
        seen.add(m.group(2))
        body = blocks.get(m.group(2)) or f"*Not in this run: no data for `{m.group(2)}`.*"
        return m.group(1) + body.rstrip() + "\n" + m.group(3)
    open(path, "w").write(pattern.sub(fill, text))
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--docs", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
    a = ap.parse_args()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs")
    os.makedirs(a.docs, exist_ok=True)
    pages = ["benchmarks.md", "choosing.md"]
    for p in pages:  # a page written elsewhere (smoke runs) starts from the real one
        if not os.path.exists(os.path.join(a.docs, p)):
            open(os.path.join(a.docs, p), "w").write(open(os.path.join(src, p)).read())
    meta = json.load(open(os.path.join(a.results, "meta.json")))
    cmd = {os.path.basename(re.search(r"--benchmark_out=(\S+)", c).group(1))[:-5]: c
           for c in meta["commands"] if "--benchmark_out=" in c}
    charts = Charts(os.path.join(a.docs, "charts"), "charts")
    for old in glob.glob(os.path.join(charts.dir, "*.svg")):
        os.remove(old)
    files = load(a.results)
    blocks = {"setup": setup_block(meta), "choosing-setup": provenance(meta), "targets": targets_block(files)}
    for stem, what in (("ops", "operation"), ("ycsb", "workload")):
        if stem in files:
            blocks[stem + "-ratios"], blocks[stem] = compare_blocks(files[stem], charts, stem, what)
    blocks["choosing-ops"], blocks["choosing-ycsb"] = blocks.get("ops-ratios"), blocks.get("ycsb-ratios")
    if "memory" in files:
        blocks["memory"] = memory_block(files["memory"], charts)
    if "transaction" in files:
        blocks["transaction"] = transaction_block(files["transaction"], charts)
    rows = contention_rows(files, a.results, "BM_Contention")
    if rows:
        blocks["contention"], blocks["latency"], blocks["choosing-contention"] = contention_blocks(rows, charts)
    grid = contention_rows(files, a.results, "BM_RetryDefaults")
    if grid:
        blocks["grid"] = grid_block(grid)
    for stem, benches in files.items():  # whatever no table above showed
        rest = measurements(benches)
        if rest:
            key = stem if stem in ("ops", "ycsb", "memory", "transaction", "reclaim", "batch", "contention-micro") \
                else "others"
            blocks[key] = (blocks[key] + "\n\n" if blocks.get(key) else "") + (f"`{stem}`:\n\n" if key == "others" else "") + rest
    blocks["choosing-memory"] = blocks.get("memory", "").split("\n\n")[0] or None
    blocks["choosing-commit"] = blocks.get("transaction", "").split("![")[0].strip() or None
    for name in list(blocks):
        if blocks[name]:
            stem = {"ops-ratios": "ops", "ycsb-ratios": "ycsb", "latency": "contention", "memory": "memory-storms"}.get(
                name.removeprefix("choosing-"), name.removeprefix("choosing-"))
            blocks[name] = provenance(meta, cmd.get(stem)) + "\n\n" + blocks[name] if name not in ("setup", "choosing-setup") else blocks[name]
    seen = set()
    for p in pages:
        seen |= rewrite(os.path.join(a.docs, p), blocks)
    for name in sorted(set(k for k, v in blocks.items() if v) - seen):
        print(f"bench-charts: no '<!-- generated:{name} begin -->' block in the pages for {name}", file=sys.stderr)
    print(f"bench-charts: {len(seen)} blocks and {len(charts.made)} charts in {os.path.abspath(a.docs)}")


if __name__ == "__main__":
    main()
