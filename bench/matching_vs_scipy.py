"""Times scipy.optimize.linear_sum_assignment on the sizes bench_matching uses and prints, beside the
times bench_matching reports (JSON on stdin), the ratio scipy / coordexp. Run: bench/matching_vs_scipy.sh"""
import json
import sys
import timeit

import numpy as np
from scipy.optimize import linear_sum_assignment


def scipy_ms(n, m):
    c = np.random.default_rng(42).random((n, m))
    number = max(1, int(2000 // max(n, m)))
    return min(timeit.repeat(lambda: linear_sum_assignment(c), number=number, repeat=5)) / number * 1e3


def main():
    ours = json.load(sys.stdin)
    best = {}  # both sides report the minimum over repetitions
    for b in ours["benchmarks"]:
        if b.get("run_type") == "iteration":
            best[b["label"]] = min(best.get(b["label"], float("inf")), b["real_time"])  # ms
    print(f"{'size':>11} {'coordexp ms':>12} {'scipy ms':>10} {'scipy/coordexp':>15}")
    for label, t in best.items():
        n, m = map(int, label.split("x"))
        s = scipy_ms(n, m)
        print(f"{label:>11} {t:12.4f} {s:10.4f} {s / t:15.2f}")


if __name__ == "__main__":
    main()
