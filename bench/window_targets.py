#!/usr/bin/env python3
"""The window sweep's targets, read from contention_benchmark's JSON.

Usage:
  contention_benchmark --benchmark_filter='BM_ContentionWindow|BM_BackoffWait' \
      --benchmark_out=window.json --benchmark_out_format=json
  python3 bench/window_targets.py window.json

Prints, per BM_ContentionWindow setting (threads x keys x writes x window), goodput of
full-jitter (vkv's default policy) and adaptive over pessimistic's, adaptive over the
best of the two, and write p99 over pessimistic's where conflicts are below 5 %; then
which targets hold in every cell they cover:
  window >= 1 us:           optimistic >= 1.0x pessimistic
  window 0, <= 50 % writes: optimistic >= 0.8x
  window 0, 100 % writes:   optimistic >= 0.6x
  window >= 1 us:           adaptive >= 0.95x best of optimistic and pessimistic
  every cell:               adaptive >= 0.95x full-jitter
  conflicts < 5 %:          optimistic write p99 <= 2x pessimistic's
and the BM_BackoffWait cells (goodput per wait mode).
"""
import json
import re
import sys
from collections import defaultdict

NAME = re.compile(
    r"BM_ContentionWindow/(?P<strategy>[^/]+)/threads:(?P<threads>\d+)/keys:(?P<keys>\d+)/"
    r"(?P<dist>[^/]+)/writes:(?P<writes>\d+)/window:(?P<window>[^/]+)")
WAIT = re.compile(r"BM_BackoffWait/(?P<mode>[^/]+)/(?P<rest>.*)")


def main(path):
    with open(path) as f:
        data = json.load(f)
    cells = defaultdict(dict)
    waits = defaultdict(dict)
    # With --benchmark_repetitions, use the medians (and only them).
    have_median = any(b.get("aggregate_name") == "median" for b in data["benchmarks"])
    for b in data["benchmarks"]:
        if have_median and b.get("aggregate_name") != "median":
            continue
        m = NAME.match(b["name"])
        if m:
            key = (m["window"], int(m["writes"]), int(m["threads"]), int(m["keys"]))
            cells[key][m["strategy"]] = b
            continue
        m = WAIT.match(b["name"])
        if m:
            waits[m["rest"]][m["mode"]] = b
    context = data.get("context", {})
    print(f"# {context.get('date', '?')}, {context.get('num_cpus', '?')} CPUs, "
          f"load average {context.get('load_avg', '?')}" + (", medians of repetitions" if have_median else ""))
    print(f"{'window':15} {'writes':>6} {'thr':>3} {'keys':>5} {'pess/s':>9} {'opt/pess':>8} "
          f"{'adpt/pess':>9} {'adpt/best':>9} {'conf%':>6} {'p99 opt/pess':>12} "
          f"{'opt p50/p99/p999 us':>22} {'pess p50/p99/p999 us':>22}")
    verdicts = defaultdict(list)
    order = ["0", "busy-1us", "busy-10us", "blocking-10us", "blocking-100us"]
    for key in sorted(cells, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1:])):
        window, writes, threads, keys = key
        row = cells[key]
        if not {"full-jitter", "pessimistic"} <= row.keys():
            continue
        opt, pess = row["full-jitter"], row["pessimistic"]
        ratio = opt["goodput"] / pess["goodput"] if pess["goodput"] else float("nan")
        adaptive = row.get("adaptive")
        a_ratio = adaptive["goodput"] / pess["goodput"] if adaptive else float("nan")
        best = max(opt["goodput"], pess["goodput"])
        a_best = adaptive["goodput"] / best if adaptive else float("nan")
        conflicts = opt["conflict_rate"] * 100
        p99 = opt["write_p99_ns"] / pess["write_p99_ns"] if pess["write_p99_ns"] else float("nan")

        def q(b):
            return "/".join(f"{b[k] / 1e3:.1f}" for k in ("write_p50_ns", "write_p99_ns", "write_p999_ns"))

        print(f"{window:15} {writes:>6} {threads:>3} {keys:>5} {pess['goodput']:>9.0f} {ratio:>8.2f} "
              f"{a_ratio:>9.2f} {a_best:>9.2f} {conflicts:>6.1f} "
              f"{(f'{p99:.2f}' if conflicts < 5 else '-'):>12} {q(opt):>22} {q(pess):>22}")
        if window != "0":
            verdicts["window >= 1 us: optimistic >= 1.0x pessimistic"].append(ratio >= 1.0)
            if adaptive:
                verdicts["window >= 1 us: adaptive >= 0.95x best"].append(a_best >= 0.95)
        elif writes <= 50:
            verdicts["window 0, <= 50 % writes: optimistic >= 0.8x"].append(ratio >= 0.8)
        else:
            verdicts["window 0, 100 % writes: optimistic >= 0.6x"].append(ratio >= 0.6)
        if adaptive:
            verdicts["every cell: adaptive >= 0.95x full-jitter"].append(
                adaptive["goodput"] >= 0.95 * opt["goodput"])
        if conflicts < 5:
            verdicts["conflicts < 5 %: write p99 <= 2x pessimistic"].append(p99 <= 2.0)
    print()
    for target, results in verdicts.items():
        print(f"{target}: {sum(results)} of {len(results)} cells meet it")
    if waits:
        print("\nBM_BackoffWait goodput (ops/s) per wait mode")
        for rest, row in sorted(waits.items()):
            line = "  ".join(f"{m} {row[m]['goodput']:>9.0f}" for m in ("spin", "yield", "adaptive") if m in row)
            print(f"  {rest:55} {line}")


if __name__ == "__main__":
    main(sys.argv[1])
