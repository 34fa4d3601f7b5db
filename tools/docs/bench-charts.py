#!/usr/bin/env python3
"""Turns one run of tools/run-benchmarks.sh into the figures of docs/benchmarks.md and
docs/choosing.md: SVG charts (matplotlib) in <docs>/charts/, and the text between
'<!-- generated:NAME begin -->' and '<!-- generated:NAME end -->'. Text outside the
markers is left as it was.

    tools/docs/bench-charts.py RESULTS_DIR [--docs DIR]      (default DIR: docs/)

RESULTS_DIR: Google Benchmark JSON (<part>.json; memory-*.json are one part), meta.json,
and *.txt reports of other scripts. Names drive the tables: where COMPARE's subject and a
peer share the rest of a name (BM_Vkv_Find/100000/threads:2, BM_Chm_Find/...), a ratio
subject / peer per scenario, first arg (records) and threads, on the median over
repetitions of a rate counter (RATES), else bytes per record, else real time; anything
else goes to its part's 'measurements' table. Contention cells (SWEEPS) are read by
column name: see docs/benchmarks.md, "Contention sweep".
"""
import argparse, csv, glob, json, math, os, re, statistics as st, sys
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402

PEERS = {"BM_Chm_": "CHM", "BM_Cuckoo_": "libcuckoo", "BM_MutexMap_": "mutex map"}
REDIS_PEERS = {where: {f"BM_WatchMulti{where}_": "WATCH/MULTI", f"BM_LuaCas{where}_": "Lua CAS",
                       f"BM_PlainSet{where}_": "plain SET"} for where in ("Single", "Cluster")}
# What is compared in each part: (subject's name prefix, its label, {peer's prefix: label}, the first arg
# [, the metric when not the default: goodput, transfers_per_s, heap_bytes_per_record, else real time]).
COMPARE = {"ops": [("BM_Vkv_", "vkv", PEERS, "records"),
                   ("BM_Vkv_FindFenceAsymmetric", "find, asymmetric fence",
                    {"BM_Vkv_FindFenceSymmetric": "symmetric fence"}, "records"),
                   ("BM_Epoch_GuardAsymmetric", "guard, asymmetric fence",
                    {"BM_Epoch_GuardSymmetric": "symmetric fence"}, ""),
                   ("BM_Version_Generate", "vkv version", {"BM_Version_BoostRandom": "Boost random_generator",
                                                           "BM_Version_BoostMt19937": "Boost mt19937",
                                                           "BM_Version_SharedCounter": "shared counter"}, "")],
           "ycsb": [("BM_Vkv_", "vkv", PEERS, "records")],
           "memory": [("BM_Vkv_", "vkv", PEERS, "records"),
                      ("BM_Vkv_", "vkv", PEERS, "records", "rss_bytes_per_record")],
           "transaction": [("BM_Commit_", "commit", {"BM_SingleWrites_": "single writes"}, "entries"),
                           ("BM_Transfer_Optimistic", "optimistic transfer",
                            {"BM_Transfer_MutexPerAccount": "mutex per account"}, "")],
           "reclaim": [("BM_Epoch_GuardedLoadAsymmetric", "epoch guard + load",
                        {"BM_Epoch_GuardedLoadSymmetric": "symmetric fence", "BM_HazardPointer_ProtectedLoad":
                         "hazard pointer", "BM_SharedPtr_AtomicLoad": "atomic shared_ptr"}, ""),
                       ("BM_Epoch_RetireAsymmetric", "new + retire", {"BM_Epoch_RetireSymmetric": "symmetric fence",
                                                                      "BM_Delete_Immediate": "new + delete"}, ""),
                       ("BM_Epoch_TryAdvanceAsymmetric", "try_advance (membarrier)",
                        {"BM_Epoch_TryAdvanceSymmetric": "fence"}, "")],
           "batch": [("BM_FindMany_Batch64", "find_many(64)", {"BM_Find_Loop64": "64 finds"}, ""),
                     ("BM_UpdateMany_Batch64", "update_many(64)", {"BM_Update_Loop64": "64 updates"}, "")],
           "cache": [],  # its own pairs (ratio, bound, hit rate counters): the measurements table
           "contention-micro": [("BM_Stats_CounterAdd", "counter add", {"BM_Stats_UncontendedUpdate": "update",
                                                                         "BM_Stats_UncontendedFind": "find"}, ""),
                                ("BM_Adaptive_ColdUpdateWithRetry/1", "adaptive on",
                                 {"BM_Adaptive_ColdUpdateWithRetry/0": "adaptive off"}, "")],
           # bench/redis_benchmark.cpp: goodput (successful writes per second), higher is better.
           "redis": [("BM_VkvSingle_", "vkv, one node", REDIS_PEERS["Single"], ""),
                     ("BM_VkvCluster_", "vkv, cluster", REDIS_PEERS["Cluster"], ""),
                     ("BM_VkvSingle_UpdateMany100", "update_many(100)",
                      {"BM_VkvSingle_Update100OneAtATime": "100 one at a time"}, ""),
                     ("BM_VkvCluster_UpdateMany100", "cluster update_many(100)",
                      {"BM_VkvCluster_Update100OneAtATime": "100 one at a time"}, ""),
                     ("BM_VkvCluster_", "cluster", {"BM_VkvSingle_": "one node"}, "")]}
CHOOSING = {"ops": 1, "ycsb": 1, "memory": 2, "transaction": 2}  # leading specs summarised in choosing.md
RATES = ("goodput", "transfers_per_s")  # counters preferred to time, higher is better
COLOR = {"vkv": "#1b7837", "CHM": "#2166ac", "libcuckoo": "#b2182b", "mutex map": "#8c6d31"}
ADAPTIVE, NOT_OPTIMISTIC = "adaptive", ("pessimistic", "adaptive", "pessimistic-unversioned")
# Contention families: (the strategy shown against the baseline, the baseline). Every
# other strategy of a cell is a column too; 'best retrying' is the best of them and the default.
SWEEPS = {"BM_Contention": ("full-jitter", "pessimistic"), "BM_ContentionWindow": ("full-jitter", "pessimistic"),
          "BM_BackoffWait": ("adaptive", "spin")}
GRID_DEFAULT = ("full-jitter", "500", "50000")  # RetryPolicy's defaults: shape, base, cap (ns)
# Which columns of a contention CSV are metrics (the rest are dimensions); in JSON every counter is.
METRIC = re.compile(r"^(goodput|committed|gave_up|turns|retries_.*|.*_rate|.*_ns|.*_samples|.*_per_s|window_blocking)$")
GB_FIELDS = {"family_index", "per_family_instance_index", "repetitions", "repetition_index", "threads",
             "iterations", "real_time", "cpu_time", "items_per_second"}
BLOCKS = tuple(COMPARE)
# The targets: label, scenario, peer, {records (None: any): goal}, sense, threads (None: all;
# a tuple: those thread counts). Time and memory from the single-operation, YCSB and memory
# benchmarks; the retry goodput target is CONTENTION_TARGETS, below.
TARGETS = [("visit / CHM read in place", "Visit", "CHM", {"10000": 0.8, "1000000": 1.1}, "<=", None),
           ("find / CHM find + copy", "Find", "CHM", {None: 1.10}, "<=", None),
           ("update_with_version / CHM accessor assign", "UpdateWithVersion", "CHM", {None: 1.5}, "<=", None),
           ("bytes per record / CHM", "BytesPerRecord", "CHM", {"1000000": 1.25}, "<=", None)] + [
           (f"YCSB {w} {d.lower()}, goodput / CHM", f"Ycsb{w}_{d}", "CHM", {None: goal}, ">=", threads)
           for w, goal, threads in (("B", 1.0, (2, 4, 8)), ("C", 1.0, (2, 4, 8)), ("A", 0.8, None), ("F", 0.8, None))
           for d in ("Uniform", "Zipfian")]
# update_with_retry's goodput with the default strategy against the write lock (the
# pessimistic baseline), one thread, 16 keys: (label, family, strategy, baseline, cell, goal).
CONTENTION_TARGETS = [(f"update_with_retry goodput / pessimistic, 1 thread, 16 keys {d}", "BM_Contention",
                       "full-jitter", "pessimistic", f"threads:1/keys:16/{d}/", 0.8) for d in ("uniform", "zipf")]


# ------------------------------------------------------------------ data

def parse_rest(rest):
    """'Find/100000/real_time/threads:2' -> ('Find', ('100000',), 2)."""
    scenario, *segs = rest.split("/")
    args = tuple(x for x in segs if ":" not in x and x not in ("real_time", "manual_time", "process_time"))
    threads = next((int(x[8:]) for x in segs if x.startswith("threads:")), 1)
    return scenario, args, threads


class Bench:
    """The repetitions of one benchmark instance."""

    def __init__(self, name):
        self.name, self.runs, self.used = name, [], False

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
        return next((m for m in RATES + ("heap_bytes_per_record",) if self.values(m)), "real")


def load(results):
    parts = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        part = re.sub(r"^memory-.*", "memory", os.path.basename(path)[:-5])
        try:
            doc = json.load(open(path)) if part != "meta" else {}
        except json.JSONDecodeError as e:  # a binary that died mid-run
            print(f"bench-charts: {path} skipped: {e}", file=sys.stderr)
            doc = {}
        for b in doc.get("benchmarks", []):
            if b.get("run_type") != "aggregate" and not b.get("error_occurred"):
                name = b.get("run_name", b["name"])
                parts[part].setdefault(name, Bench(name)).runs.append(b)
    return parts


# ------------------------------------------------------------------ formatting

def f_scaled(x, units):
    for unit, scale in units:
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} {units[-1][0] if units[-1][1] == 1 else ''}".strip()


def f_value(x, metric):
    if x is None:
        return "–"
    if metric in RATES:
        return f_scaled(x, (("G/s", 1e9), ("M/s", 1e6), ("k/s", 1e3), ("/s", 1)))
    if metric == "real":
        return f_scaled(x, (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1)))
    return f"{x:.1f} B"


def f_ns(x):
    return f_value(x, "real")


def f_ratio(x):
    return "–" if x is None or not math.isfinite(x) else f"{x:.2f}×" if x >= 0.1 else f"{x:.2g}×"


def div(a, b):
    return a / b if a and b else None


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def column(args, threads):
    """('1000000',), 2 -> '1M/2t'."""
    n = int(args[0]) if args and args[0].isdigit() else None
    head = (f"{n // 10**6}M" if n >= 10**6 and n % 10**6 == 0 else f"{n // 1000}k" if n >= 1000 and n % 1000 == 0
            else str(n)) if n is not None else "/".join(args)
    return f"{head}/{threads}t" if args else f"{threads}t"


# ------------------------------------------------------------------ charts

class Charts:
    def __init__(self, directory):
        self.dir, self.made = directory, 0
        os.makedirs(directory, exist_ok=True)
        for old in glob.glob(os.path.join(directory, "*.svg")):
            os.remove(old)

    def save(self, fig, name, alt):
        fig.tight_layout()
        fig.savefig(os.path.join(self.dir, name + ".svg"), format="svg", metadata={"Date": None})
        plt.close(fig)
        self.made += 1
        return f"![{alt}](charts/{name}.svg)\n\n"

    def bars(self, name, alt, panels, ylabel, unity=True):
        """Ratios on a log axis around 1 (a line at 1 unless unity is False: absolute values);
        panels: [(title, categories, {series: [value or None]})]."""
        cols = min(3, len(panels))
        rows = (len(panels) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(4.2 * cols, 3.0 * rows))
        for ax, (title, cats, series) in zip(axes.flat, panels):
            width = 0.8 / max(1, len(series))
            for i, (label, vals) in enumerate(series.items()):
                xs = [j + i * width for j, v in enumerate(vals) if v]
                ax.bar(xs, [v for v in vals if v], width, label=label, color=COLOR.get(label))
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cats))], cats, fontsize=7, rotation=30)
            ax.set_title(title, fontsize=9)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            if unity:
                ax.axhline(1.0, color="black", linewidth=0.8)
        axes.flat[0].legend(fontsize=7)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        return self.save(fig, name, alt)

    def heatmap(self, name, title, grid, rows, cols):
        """grid[(row, col)] = ratio; green above 1, red below, on a log scale."""
        width = 1.5 + 0.065 * max(map(len, rows)) + 0.7 * len(cols)  # room for the row labels
        fig, ax = plt.subplots(figsize=(max(5.0, width), 1.0 + 0.26 * len(rows)))
        ax.imshow([[math.log2(grid[r, c]) if grid.get((r, c)) else math.nan for c in cols] for r in rows],
                  cmap="RdYlGn", vmin=-2, vmax=2, aspect="auto")
        for (r, c), v in grid.items():
            if v:
                ax.text(cols.index(c), rows.index(r), f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(cols)), cols, fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.set_xlabel("threads", fontsize=8)
        ax.set_title(title, fontsize=9)
        return self.save(fig, name, title)


# ------------------------------------------------------------------ vkv against its peers

def comparisons(benches, subject, peers):
    """(scenario, args, threads) -> {label: Bench} where the subject and a peer share a scenario."""
    groups = defaultdict(dict)
    for b in benches.values():
        for prefix, label in ((subject[0], subject[1]), *peers.items()):
            if b.name.startswith(prefix):
                groups[parse_rest(b.name[len(prefix):])][label] = b
    return {k: g for k, g in groups.items() if subject[1] in g and len(g) > 1}


def ratio(g, subject, peer, metric=None):
    metric = metric or g[subject].metric()
    return div(g[subject].median(metric), g[peer].median(metric)) if peer in g else None


def sort_key(k):
    return [int(a) if a.isdigit() else a for a in k[1]], k[2]


def compare_blocks(benches, charts, chart, spec):
    """Ratio matrices subject / peer (one per peer) with their chart, the absolute figures, and a
    one-table summary for choosing.md (per scenario and peer: median and range over the columns)."""
    prefix, me, peers, arg, *chosen = spec
    groups = comparisons(benches, (prefix, me), peers)
    if not groups:
        return None, None, None
    scenarios = list(dict.fromkeys(k[0] for k in sorted(groups, key=sort_key)))
    cols = sorted({k[1:] for k in groups}, key=lambda c: sort_key((None, *c)))
    peers = [p for p in peers.values() if any(p in g for g in groups.values())]
    metric = chosen[0] if chosen else next(iter(groups.values()))[me].metric()
    cell = lambda s, c, p: ratio(groups[(s, *c)], me, p, metric) if (s, *c) in groups else None  # noqa: E731
    head = [k or me for k in scenarios]
    what = {"real": "time per operation", "heap_bytes_per_record": "heap bytes per record",
            "rss_bytes_per_record": "resident (RSS) bytes per record", "transfers_per_s": "transfers per second"
            }.get(metric, metric)
    sense = f"Median {what}, {me} / peer: {'above' if metric in RATES else 'below'} 1 favours {me}."
    text = sense + "\n\n"
    heading = f"(columns: {arg + '/' if arg else ''}threads)"
    if len(scenarios) == 1:  # one table, a row per peer
        text += table([heading] + [column(*c) for c in cols],
                      [[f"{me} / {p}"] + [f_ratio(cell(scenarios[0], c, p)) for c in cols] for p in peers]) + "\n\n"
        panels = [(head[0], [f"/ {p}" for p in peers], {column(*c): [cell(scenarios[0], c, p) for p in peers]
                                                        for c in cols})]
    else:  # a table per peer, a row per scenario
        for p in peers:
            text += f"**{me} / {p}** {heading}\n\n" + table([""] + [column(*c) for c in cols], [
                [h] + [f_ratio(cell(s, c, p)) for c in cols] for h, s in zip(head, scenarios)]) + "\n\n"
        panels = [(f"{me} / {p}", head, {column(*c): [cell(s, c, p) for s in scenarios] for c in cols})
                  for p in peers]
    text += charts.bars(chart, f"{me} / peer", panels, f"{me} / peer")
    text += latency_text(groups, charts, chart, me, peers, scenarios, cols)
    cpu = [f"{me} CPU"] if metric == "real" else []
    rows = []
    for k in sorted(groups, key=lambda k: (scenarios.index(k[0]), sort_key(k))):
        g = groups[k]
        rows.append([k[0] or me, column(*k[1:]), f_value(g[me].median(metric), metric)] +
                    [f_ns(g[me].median("cpu"))] * bool(cpu) +
                    sum([[f_value(g[p].median(metric), metric) if p in g else "–", f_ratio(ratio(g, me, p, metric))]
                         for p in peers], []) + [f"{max(b.spread(metric) for b in g.values()):.0%}"])
        for b in g.values():
            b.used = True
    header = [what, f"{arg}/threads" if arg else "threads", me] + cpu + sum([[p, f"{me}/{p}"] for p in peers], [])
    summary = [[h] + [f"{f_ratio(st.median(v))} ({f_ratio(min(v))} – {f_ratio(max(v))})" if v else "–"
                      for p in peers
                      for v in [[r for c in cols for r in [cell(s, c, p)] if r]]] for h, s in zip(head, scenarios)]
    return text, table(header + ["spread"], rows), sense + (
        f" Each cell: the median (lowest – highest) over {', '.join(column(*c) for c in cols)}.\n\n") + table(
        [""] + [f"{me} / {p}" for p in peers], summary)


def latency_text(groups, charts, chart, me, peers, scenarios, cols):
    """Where the compared benchmarks report <kind>_p<q>_ns counters: every side's quantiles, a
    table and a chart of absolute latency (one panel per quantile), else ''."""
    sides = [me] + peers
    quantiles = sorted({(m.group(1), int(m.group(2))) for g in groups.values() for b in g.values()
                        for k in b.runs[0] for m in [re.match(r"(\w+?)_p(\d+)_ns$", k)] if m},
                       key=lambda kq: (kq[0], float("0." + str(kq[1]))))
    if not quantiles:
        return ""
    names = [f"{k}_p{q}_ns" for k, q in quantiles]
    qlabel = lambda kq: f"p{str(kq[1])[:2]}.{str(kq[1])[2:]}" if len(str(kq[1])) > 2 else f"p{kq[1]}"  # noqa: E731
    rows, panels = [], []
    for s in scenarios:
        for c in cols:
            g = groups.get((s, *c))
            if g:
                rows.append([s or me, column(*c)] + [" / ".join(
                    f"{g[side].median(n) / 1e3:.3g}" if side in g and g[side].median(n) else "–" for n in names)
                    for side in sides])
    for kq, n in zip(quantiles, names):
        panels += [(f"{s or me}: {qlabel(kq)} (µs)", [column(*c) for c in cols],
                    {side: [groups[(s, *c)][side].median(n) / 1e3
                            if (s, *c) in groups and side in groups[(s, *c)] and groups[(s, *c)][side].median(n)
                            else None for c in cols] for side in sides}) for s in scenarios]
    head = " / ".join(qlabel(kq) for kq in quantiles)
    return (f"Latency, µs ({head}; every side samples the same share of its operations alike):\n\n" +
            table(["", "columns"] + [f"{side} {head}" for side in sides], rows) + "\n\n" +
            charts.bars(chart + "-latency", f"{me} latency", panels, "µs", unity=False))


def measurements(benches):
    """What no other table showed: median real and CPU time, spread, counters."""
    rows = [[f"`{b.name}`", f_ns(b.median("real")), f_ns(b.median("cpu")), f"{b.spread('real'):.0%}",
             ", ".join(f"{k} {b.median(k):.4g}" for k, v in b.runs[0].items()
                       if k not in GB_FIELDS and isinstance(v, (int, float)))]
            for b in sorted(benches.values(), key=lambda b: (b.runs[0].get("family_index", 0),
                                                              b.runs[0].get("per_family_instance_index", 0)))
            if not b.used]
    return table(["benchmark", "real", "CPU", "spread", "counters (median)"], rows) if rows else None


# ------------------------------------------------------------------ contention sweep and grid

def contention_rows(parts, results, family):
    """One dict per cell, dimensions and metrics by name: from JSON names and counters, or CSV."""
    rows = []
    for b in (b for benches in parts.values() for b in benches.values() if b.name.startswith(family + "/")):
        b.used = True
        strategy, *segs = [s for s in b.name.split("/")[1:]
                           if s not in ("real_time", "manual_time") and not s.startswith(("iterations:", "repeats:"))]
        row = {"strategy": strategy}
        for i, seg in enumerate(segs):
            key, sep, value = seg.partition(":")
            row[key if sep else "distribution" if seg in ("uniform", "zipf", "zipfian") else f"arg{i}"] = \
                value if sep else seg
        rows.append(row | {k: b.median(k) for k, v in b.runs[0].items()
                           if k not in GB_FIELDS and isinstance(v, (int, float))})
    stem = family.lower().removeprefix("bm_")
    for path in glob.glob(os.path.join(results, f"{stem}*.csv")):
        if not path.endswith("-cells.csv"):
            rows += [{k: float(v) if METRIC.match(k) and v else v for k, v in r.items()}
                     for r in csv.DictReader(open(path))]
    if rows:  # every cell with every column, for whoever wants more than the tables
        with open(os.path.join(results, f"{stem}-cells.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, list(dict.fromkeys(k for r in rows for k in r)))
            writer.writeheader()
            writer.writerows(rows)
    return rows


def contention_blocks(rows, charts, slug, default, baseline):
    """The sweep table with a heatmap of default / baseline goodput, the tail-latency table
    (every <kind>_p<q>_ns counter) with a heatmap of p99, and a summary by window and writes."""
    dims = [k for k in dict.fromkeys(k for r in rows for k, v in r.items() if isinstance(v, str)) if k != "strategy"]
    label = lambda cell: " ".join(c if d.startswith(("arg", "distribution")) else f"{d}:{c}"  # noqa: E731
                                  for d, c in zip(dims, cell) if d != "threads")
    cells, order = defaultdict(dict), {}
    for r in rows:
        cell = tuple(r.get(d, "") for d in dims)
        cells[cell][r["strategy"]] = r
        order.setdefault(label(cell), len(order))
    thread = lambda cell: int(dict(zip(dims, cell)).get("threads") or 0)  # noqa: E731
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    others = [s for s in strategies if s not in NOT_OPTIMISTIC + (default, baseline)]
    shown = list(dict.fromkeys(s for s in (default, ADAPTIVE, baseline) if s in strategies))
    adaptive = ADAPTIVE in shown and ADAPTIVE != default
    kinds = defaultdict(list)  # latency kind (lat, write, ...) -> its counters, by quantile
    for k in sorted({k for r in rows for k in r}, key=lambda k: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", k)]):
        if m := re.match(r"(\w+?)_p(\d+)_ns$", k):
            kinds[m.group(1)].append(k)
    p99 = {kind: next((k for k in ks if k.endswith("_p99_ns")), None) for kind, ks in kinds.items()}
    hot = "write" if "write" in kinds else next(iter(kinds), None)  # the kind the heatmap shows
    sweep, latency, summary, heat, heat99 = [], [], defaultdict(list), {}, {}
    for cell in sorted(cells, key=lambda c: (order[label(c)], thread(c))):
        by = defaultdict(dict, cells[cell])
        g = {s: by[s].get("goodput") for s in strategies}
        best = max(others + [default], key=lambda s: g.get(s) or 0)
        sweep.append(list(cell) + [f"{g[s] / 1e6:.3g}" if g[s] else "–" for s in strategies] + [
            f_ratio(div(g.get(default), g.get(baseline)))] + [
            f"{f_ratio(div(g.get(best), g.get(baseline)))} ({best})"] * bool(others) + [
            f_ratio(div(g.get(ADAPTIVE), max(g.get(best) or 0, g.get(baseline) or 0)))] * adaptive + [
            f"{by[default].get('conflict_rate') or 0:.1%}"])
        ratios = {kind: div(by[default].get(k), by[baseline].get(k)) for kind, k in p99.items()}
        latency.append(list(cell) + [" / ".join(f"{by[s][k] / 1e3:.3g}" if by[s].get(k) else "–" for k in ks)
                                     for s in shown for ks in kinds.values()] + [f_ratio(r) for r in ratios.values()])
        heat[label(cell), str(thread(cell))] = div(g.get(default), g.get(baseline))
        heat99[label(cell), str(thread(cell))] = div(1, ratios.get(hot))
        group = tuple(c for d, c in zip(dims, cell) if d.startswith("window") or d == "writes")
        summary[group].append([div(g.get(s), g.get(baseline)) for s in shown if s != baseline])
    names, threads = list(order), sorted({str(thread(c)) for c in cells}, key=int)
    sweep_text = charts.heatmap(slug, f"goodput, {default} / {baseline}", heat, names, threads) + table(
        dims + [f"{s} (M/s)" for s in strategies] + [f"{default} / {baseline}"]
        + [f"best retrying / {baseline}"] * bool(others) + ["adaptive / best of both"] * adaptive
        + [f"conflicts ({default})"], sweep)
    lat_text = (charts.heatmap(slug + "-latency", f"{hot} p99, {baseline} / {default}", heat99,
                               names, threads) + table(
        dims + [f"{s} {kind} {'/'.join(k[len(kind) + 1:-3] for k in ks)} (µs)" for s in shown
                for kind, ks in kinds.items()] + [f"{kind} p99 {default} / {baseline}" for kind in kinds], latency)
        if kinds else None)
    sdims = [d for d in dims if d.startswith("window") or d == "writes"]
    srows = [list(group) + [s, f"{sum(v >= 1 for v in vals)} of {len(vals)}", f_ratio(st.median(vals)),
                            f_ratio(min(vals)), f_ratio(max(vals))]
             for group, ratios in summary.items() for i, s in enumerate(x for x in shown if x != baseline)
             for vals in [[r[i] for r in ratios if r[i]]] if vals]
    return sweep_text, lat_text, table(sdims + ["strategy", f"cells ≥ {baseline}", "median", "worst", "best"], srows)


def grid_block(rows):
    knobs = ("strategy", "base_ns", "cap_ns")
    settings, best = defaultdict(dict), defaultdict(float)
    for r in rows:
        cell = tuple((k, v) for k, v in r.items() if k not in knobs and isinstance(v, str))
        settings[tuple(r.get(k, "?") for k in knobs)][cell] = g = max(r.get("goodput") or 0, 1e-9)
        best[cell] = max(best[cell], g)
    score = {s: math.exp(st.mean(math.log(g / best[c]) for c, g in cs.items())) for s, cs in settings.items()}
    marginals = []
    for i, knob in enumerate(("shape", "base delay (ns)", "cap (ns)")):
        values = sorted({s[i] for s in score}, key=lambda v: (len(v), v))
        marginals.append([knob, " / ".join(values),
                          " / ".join(f"{st.mean(x for s, x in score.items() if s[i] == v):.3f}" for v in values)])
    ranked = sorted(score, key=score.get, reverse=True)
    top = [[i + 1, *s, f"{score[s]:.3f}"] for i, s in enumerate(ranked[:5])]
    if GRID_DEFAULT in score:
        top.append([ranked.index(GRID_DEFAULT) + 1, *GRID_DEFAULT, f"{score[GRID_DEFAULT]:.3f} (the default)"])
    return (f"Score of a setting: geometric mean over the {len(best)} cells of its goodput / the best goodput in "
            f"that cell (1 = best everywhere), {len(score)} settings.\n\n"
            + table(["knob", "values", "mean score"], marginals)
            + "\n\n" + table(["rank", "shape", "base (ns)", "cap (ns)", "score"], top))


# ------------------------------------------------------------------ targets, provenance, pages

def targets_block(parts):
    groups = {k: g for benches in parts.values() for k, g in comparisons(benches, ("BM_Vkv_", "vkv"), PEERS).items()}
    rows = []
    for label, scenario, peer, goals, sense, threads in TARGETS:
        found = [k for k in sorted(groups, key=sort_key) if k[0] == scenario and peer in groups[k]
                 and (threads is None or k[2] in (threads if isinstance(threads, tuple) else (threads,)))]
        for k in found:
            goal = goals.get(k[1][0] if k[1] else None, goals.get(None))
            r = ratio(groups[k], "vkv", peer)
            if goal is not None:
                met = r is not None and (r <= goal if sense == "<=" else r >= goal)
                rows.append([label, column(*k[1:]), f"{sense} {goal}×", f_ratio(r), "met" if met else "**missed**"])
        if not found:
            rows.append([label, "–", " or ".join(f"{sense} {g}×" for g in goals.values()), "not measured", "–"])
    benches = {b.name: b for part in parts.values() for b in part.values()}
    for label, family, strategy, baseline, cell, goal in CONTENTION_TARGETS:
        pick = lambda s: next((b for n, b in sorted(benches.items()) if n.startswith(f"{family}/{s}/{cell}")), None)  # noqa: E731
        mine, base = pick(strategy), pick(baseline)
        r = div(mine.median("goodput"), base.median("goodput")) if mine and base else None
        rows.append([f"{label} ({strategy})", "–", f">= {goal}×", f_ratio(r) if r else "not measured",
                     ("met" if r >= goal else "**missed**") if r else "–"])
    return table(["target", "records/threads", "goal", "measured", "verdict"], rows)


def redis_targets_block(parts):
    """The targets for vkv::redis, each measured ratio against its goal."""
    benches = parts.get("redis", {})
    rate = lambda name: benches[name].median("goodput") if name in benches else None  # noqa: E731
    rows = []
    for where in ("Single", "Cluster"):
        names = sorted({parse_rest(n.split("_", 2)[2])[2] for n in benches if n.startswith(f"BM_Vkv{where}_Update")
                        and "UpdateWithVersion" in n})
        for peer, label, goal in (("WatchMulti", "WATCH/MULTI", 1.5), ("PlainSet", "plain SET", 0.8)):
            for t in names:
                suffix = f"UpdateWithVersion/real_time/threads:{t}"
                r = div(rate(f"BM_Vkv{where}_{suffix}"), rate(f"BM_{peer}{where}_{suffix}"))
                rows.append([f"update_with_version / {label}, {where.lower()}", f"{t}t", f"≥ {goal}",
                             f_ratio(r), "met" if r and r >= goal else "**not met**"])
        for t in (1, 4):
            suffix = f"/real_time/threads:{t}"
            r = div(rate(f"BM_Vkv{where}_UpdateMany100{suffix}"), rate(f"BM_Vkv{where}_Update100OneAtATime{suffix}"))
            if r:
                rows.append([f"update_many(100) / 100 one at a time, {where.lower()}", f"{t}t", "≥ 5",
                             f_ratio(r), "met" if r >= 5 else "**not met**"])
    return table(["target", "threads", "goal", "measured", ""], rows) if rows else None


def provenance(meta, commands=()):
    tree = "clean tree" if not meta["dirty"] else "**uncommitted changes in " + ", ".join(meta["dirty"]) + "**"
    tree += "; **some benchmarks failed, see the setup**" if meta.get("failures") else ""
    line = (f"*Generated by `{meta['invocation']}` from commit `{meta['commit']}` ({tree}), {meta['date']}; "
            f"{meta['nproc']} × {meta['cpu']}, load {meta['load_before']} → {meta['load_after']}"
            + ("; **smoke run: the figures mean nothing**" if meta["smoke"] else "") + ".*")
    return line + "".join(f"\n\n    {c}" if i == 0 else f"\n    {c}" for i, c in enumerate(commands))


def setup_block(meta):
    return "\n".join([
        f"- **Command**: `{meta['invocation']}` ({meta['seconds']} s of benchmarks: "
        + ", ".join(meta.get("timings", [])) + ")",
        f"- **Commit**: `{meta['commit']}` ({meta['commit_date']}), "
        + ("clean tree" if not meta["dirty"] else "uncommitted changes in " + ", ".join(meta["dirty"])),
        f"- **Machine**: {meta['nproc']} × {meta['cpu']}, {meta['memory_gib']} GiB; {meta['os']}",
        f"- **Load average** (1, 5, 15 min): {meta['load_before']} before, {meta['load_after']} after",
        f"- **Compiler**: {meta['compiler']}; **build**: {meta['build_type']}, `{meta['flags']}`"
        f" ({meta['build_dir']})",
        f"- **Google Benchmark library**: built as {meta.get('benchmark_library', '?')} (as packaged; it times"
        " the loop, not the code measured)",
        f"- **Date**: {meta['date']}" + ("; **smoke run**" if meta["smoke"] else ""),
        *[f"- **Failed, its figures missing or partial**: {', '.join(meta.get('failures', []))}"] * bool(meta.get("failures")),
        "- **Commands**, in order:", ""] + [f"      {c}" for c in meta["commands"]])


# Blocks of these pages that another generator writes, from its own run: left as they are.
FOREIGN = {"icount": "tools/docs/icount-doc.sh", "choosing-optimism": "tools/docs/lab-doc.sh --choosing"}


def rewrite(path, blocks):
    seen = set()

    def fill(m):
        if m.group(2) in FOREIGN:
            return m.group(0)
        seen.add(m.group(2))
        body = blocks.get(m.group(2)) or f"*Not in this run: no data for `{m.group(2)}`.*"
        return m.group(1) + body.rstrip() + "\n" + m.group(3)
    pattern = re.compile(r"(<!-- generated:([\w-]+) begin -->\n).*?(<!-- generated:\2 end -->)", re.S)
    text = pattern.sub(fill, open(path).read())
    open(path, "w").write(text)
    return seen


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--docs", default=here, help="where the pages and charts/ are written")
    a = ap.parse_args()
    os.makedirs(a.docs, exist_ok=True)
    pages = [os.path.join(a.docs, p) for p in ("benchmarks.md", "choosing.md")]
    for p in pages:  # pages written elsewhere (smoke runs) start from the real ones
        if os.path.realpath(a.docs) != os.path.realpath(here):
            open(p, "w").write(open(os.path.join(here, os.path.basename(p))).read())
    meta = json.load(open(os.path.join(a.results, "meta.json")))
    command = defaultdict(list)  # part -> its commands (memory runs one process per figure)
    for c in meta["commands"]:
        stem = re.search(r"(?:--benchmark_out=|> )\S*/([\w-]+)\.(?:json|txt)", c).group(1)
        command[re.sub(r"^memory-.*", "memory", stem)].append(c)
    charts, parts = Charts(os.path.join(a.docs, "charts")), load(a.results)
    for path in sorted(glob.glob(os.path.join(a.results, "*.json"))):
        try:
            meta.setdefault("benchmark_library", json.load(open(path))["context"]["library_build_type"])
        except (KeyError, json.JSONDecodeError):
            pass
    blocks, where = {"setup": setup_block(meta), "targets": targets_block(parts),
                     "redis-targets": redis_targets_block(parts)}, {"redis-targets": "redis"}
    for part, specs in COMPARE.items():
        chart = lambda spec: re.sub(r"\W+", "-", "-".join((part, spec[1], *spec[4:]))).strip("-")  # noqa: E731
        made = [compare_blocks(parts.get(part, {}), charts, chart(spec), spec) for spec in specs]
        if made:  # a part with no comparison (cache) shows its measurements table only
            blocks[part + "-ratios"], blocks[part], _ = ("\n\n".join(filter(None, m)) or None
                                                         for m in zip(*made))
        blocks["choosing-" + part] = "\n\n".join(filter(None, [m[2] for m in made[:CHOOSING.get(part, 0)]])) or None
    families = sorted({n.split("/")[0] for benches in parts.values() for n in benches} & set(SWEEPS))
    for family in families:  # contention cells: one table per family
        slug = re.sub(r"(?<!^)(?=[A-Z])", "-", family.removeprefix("BM_")).lower()
        rows = contention_rows(parts, a.results, family)
        blocks[slug], blocks[slug + "-latency"], summary = contention_blocks(rows, charts, slug, *SWEEPS[family])
        if family.startswith("BM_Contention"):
            blocks["choosing-contention"] = "\n\n".join(filter(None, [blocks.get("choosing-contention"),
                                                                        f"`{family}`:\n\n{summary}"]))
        part = next(p for p, benches in parts.items() if any(n.startswith(family + "/") for n in benches))
        where[slug] = where[slug + "-latency"] = where["choosing-contention"] = part
    grid = contention_rows(parts, a.results, "BM_RetryDefaults")
    blocks["grid"] = grid_block(grid) if grid else None
    for path in glob.glob(os.path.join(a.results, "*.txt")):  # reports of other scripts, as they printed them
        blocks[os.path.basename(path)[:-4]] = "".join("    " + line for line in open(path))
    for part, benches in parts.items():  # whatever no table above showed
        key, rest = part if part in BLOCKS else "others", measurements(benches)
        if rest:
            blocks[key] = "\n\n".join(filter(None, [blocks.get(key), f"`{part}`:" if key == "others" else "", rest]))
    for name, body in blocks.items():
        if body and name != "setup":
            part = where.get(name, name.removeprefix("choosing-").removesuffix("-ratios"))
            blocks[name] = provenance(meta, command.get(part, [])) + "\n\n" + body
    seen = set().union(*(rewrite(p, blocks) for p in pages))
    for name in sorted({k for k, v in blocks.items() if v and not k.startswith("choosing-")} - seen):
        print(f"bench-charts: the pages have no block '{name}'", file=sys.stderr)
    print(f"bench-charts: {len(seen)} blocks and {charts.made} charts in {os.path.abspath(a.docs)}")


if __name__ == "__main__":
    main()
