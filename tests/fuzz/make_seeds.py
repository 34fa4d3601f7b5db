#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/ (the encoding is driver.hpp's).

Each seed is: a config byte, then operations [op, key, arguments...]. Run from the
repository root; it overwrites only the seed-*.bin files it names.
"""
import os

OPS = {name: i for i, name in enumerate([
    "create", "try_create", "find", "update", "try_update", "patch", "try_patch",
    "soft_delete", "try_soft_delete", "restore", "try_restore", "erase", "try_erase",
    "update_with_retry", "find_many", "update_many", "commit", "try_commit",
    "compare_all", "transform"])}
CUR, NIL = 0, 3          # expected-version selectors: the model's version / nil
def stale(i): return [2, i]  # the i-th version ever issued


def value(s): return [len(s)] + [ord(c) - ord('a') for c in s]


def op(name, key, *args):
    out = [OPS[name], key]
    for a in args:
        out += a if isinstance(a, list) else [a]
    return out


SEEDS = {
    "lifecycle": [0] + op("create", 0, value("abc")) + op("find", 0, 0)
    + op("update", 0, CUR, 0, value("de")) + op("soft_delete", 0, CUR)
    + op("find", 0, 0) + op("find", 0, 1) + op("restore", 0, CUR)
    + op("erase", 0, CUR) + op("create", 0, value("f")) + op("compare_all", 0),
    "conflicts": [1] + op("create", 1, value("a")) + op("update", 1, CUR, 0, value("b"))
    + op("update", 1, stale(0), 0, value("c")) + op("try_update", 1, stale(0), 0, value("c"))
    + op("try_patch", 1, NIL, 0, 1) + op("try_soft_delete", 1, stale(0))
    + op("try_erase", 1, NIL) + op("compare_all", 0),
    "try_calls": [2] + op("try_create", 2, value("x")) + op("try_create", 2, value("y"))
    + op("try_update", 2, CUR, 1, value("z")) + op("try_soft_delete", 2, CUR)
    + op("try_soft_delete", 2, CUR) + op("try_update", 2, CUR, 0, value("q"))
    + op("try_update", 2, CUR, 1, value("r")) + op("try_restore", 2, CUR)
    + op("try_restore", 2, CUR) + op("try_erase", 2, CUR) + op("try_erase", 2, CUR)
    + op("create", 2, value("s")),
    "patches": [3] + op("create", 3, value("pq")) + op("patch", 3, CUR, 0, 1)
    + op("patch", 3, CUR, 0, 2) + op("patch", 3, CUR, 0, 7) + op("patch", 3, CUR, 0, 0)
    + op("try_patch", 3, CUR, 0, 14) + op("try_patch", 3, CUR, 0, 5)
    + op("update_with_retry", 3, 3) + op("compare_all", 0),
    "batches": [4] + op("create", 0, value("a")) + op("create", 1, value("b"))
    + op("find_many", 0, 4, 0, 1, 2, 0, 0)
    + op("update_many", 0, 3, 0, CUR, value("c"), 1, NIL, value("d"), 1, CUR, value("e"))
    + op("find_many", 0, 2, 1, 0, 1) + op("compare_all", 0),
    "commit_ok": [0x80] + op("create", 0, value("a")) + op("create", 1, value("b"))
    + op("create", 2, value("c"))
    + op("commit", 0, 3, 0, CUR, 1 + 4, CUR, value("bb"), 2 + 8, CUR)
    + op("try_commit", 0, 2, 0 + 12, CUR, 1, CUR) + op("compare_all", 0),
    "commit_fail": [0x81] + op("create", 0, value("a")) + op("create", 1, value("b"))
    + op("update", 1, CUR, 0, value("bb"))
    + op("commit", 0, 2, 0 + 4, CUR, value("x"), 1, stale(1))
    + op("try_commit", 0, 2, 3, CUR, 0, CUR)
    + op("try_commit", 0, 2, 0, CUR, 0 + 4, CUR, value("dup"))
    + op("compare_all", 0),
    "transform": [2] + op("create", 1, value("t")) + op("transform", 1, CUR, value("u"))
    + op("transform", 1, stale(0), value("v")) + op("transform", 3, CUR, value("w"))
    + op("compare_all", 0),
    "retry_missing": [3] + op("update_with_retry", 0, 1) + op("create", 0, value("m"))
    + op("soft_delete", 0, CUR) + op("update_with_retry", 0, 1)
    + op("update", 0, CUR, 1, value("n")) + op("restore", 0, CUR)
    + op("update_with_retry", 0, 5) + op("compare_all", 0),
    "all_keys": [4] + sum((op("create", k, value("k" * (k + 1))) for k in range(4)), [])
    + sum((op("update", k, CUR, 0, value("v")) for k in range(4)), [])
    + op("soft_delete", 1, CUR) + op("erase", 2, CUR) + op("compare_all", 0),
}

os.makedirs("tests/fuzz/corpus", exist_ok=True)
for name, data in SEEDS.items():
    assert all(0 <= b < 256 for b in data), name
    with open(f"tests/fuzz/corpus/seed-{name}.bin", "wb") as f:  # check-paths: ignore (a file name prefix)
        f.write(bytes(data))
