#!/usr/bin/python3
"""The Python package against the tools Python users have, side by side in one run (docs/python.md#speed).

COCO evaluation: each run is a fresh python3 process that imports the package, then times (inside the
process) the whole run from the JSON paths to `stats`: COCO(gt) + loadRes + evaluate + accumulate +
summarize, with results given as a path or as a list of dicts already in memory (what a training loop
holds). Programs: coordexp.cocotools, pycocotools (--pycocotools: a source tree built in place) and the
numpy re-implementation in tests/eval/ref. Their 12 stats must agree. Repetitions are interleaved; medians.

Assignment: coordexp.linear_sum_assignment against scipy.optimize.linear_sum_assignment on the same float64
matrices (uniform random), Python call included, medians of interleaved repetitions; and one DETR-style
batch (64 matrices of 100 x 20) through linear_sum_assignment_batch against a Python loop over scipy.

CoordExp: coordexp.torch.coord_expectation forward + backward against plain PyTorch autograd on full-
vocabulary logits (Qwen2-VL's V and D), time and each step's own resident peak, in the same process.

Usage: PYTHONPATH=build/python bench/python_vs_references.py --gt GT.json --dt DT.json
           [--pycocotools SRC/PythonAPI] [--repeat 5] [--only coco|assignment|coord]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

RUN = r'''
import contextlib, io, json, sys, time
mode, gt_path, dt_path, tool = sys.argv[1:5]
sys.path[:0] = [p for p in sys.argv[5:] if p]
dts = json.load(open(dt_path)) if mode == "list" else dt_path
if tool == "numpy":
    import cocoeval_ref
    t0 = time.perf_counter()
    gt = json.load(open(gt_path))
    if mode == "path":
        dts = json.load(open(dt_path))
    ref = cocoeval_ref.Reference(gt, dts)
    ref.run()
    stats = ref.stats()
else:
    if tool == "coordexp":
        from coordexp.cocotools import COCO, COCOeval
    else:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        E = COCOeval(gt, gt.loadRes(dts), "bbox")
        E.evaluate(); E.accumulate(); E.summarize()
    stats = [float(x) for x in E.stats]
print(json.dumps({"seconds": time.perf_counter() - t0, "stats": stats}))
'''


def coco_rows(args):
    tools = ["coordexp", "numpy"] + (["pycocotools"] if args.pycocotools else [])
    paths = [p for p in sys.path if p] + [os.path.join(HERE, "..", "tests", "eval", "ref")]
    if args.pycocotools:
        paths.insert(0, args.pycocotools)
    times, stats = {}, {}
    for _ in range(args.repeat):
        for mode in ("path", "list"):
            for tool in tools:
                out = subprocess.run([sys.executable, "-c", RUN, mode, args.gt, args.dt, tool] + paths,
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                times.setdefault((mode, tool), []).append(r["seconds"])
                stats[(mode, tool)] = r["stats"]
    base = stats[("path", "numpy")]
    for key, s in stats.items():
        if max(abs(a - b) for a, b in zip(s, base)) > 1e-12:
            raise SystemExit(f"stats differ: {key} {s} vs numpy {base}")
    print("| results given as | program | seconds, median (min-max) | x pycocotools | x numpy reference |")
    print("| --- | --- | --- | --- | --- |")
    for mode in ("path", "list"):
        ref = statistics.median(times[(mode, "numpy")])
        pyc = statistics.median(times[(mode, "pycocotools")]) if args.pycocotools else None
        for tool in tools:
            t = times[(mode, tool)]
            med = statistics.median(t)
            print(f"| {mode} | {tool} | {med:.3f} ({min(t):.3f}-{max(t):.3f}) | "
                  f"{(pyc / med) if pyc else float('nan'):.1f}x | {ref / med:.1f}x |")
    print("\nThe 12 stats of every program agree to 1e-12.\n")


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def assignment_rows(args):
    import scipy.optimize

    import coordexp
    rng = np.random.default_rng(0)
    print("| matrices | coordexp ms | scipy ms | x scipy |")
    print("| --- | --- | --- | --- |")
    for n in (100, 300, 1000):
        cost = rng.random((n, n))
        ours, theirs = [], []
        for _ in range(max(args.repeat, 7)):  # interleaved
            ours += timed(lambda: coordexp.linear_sum_assignment(cost), 1)
            theirs += timed(lambda: scipy.optimize.linear_sum_assignment(cost), 1)
        r, c = coordexp.linear_sum_assignment(cost)
        sr, sc = scipy.optimize.linear_sum_assignment(cost)
        assert abs(cost[r, c].sum() - cost[sr, sc].sum()) < 1e-9
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"| {n} x {n} | {o * 1e3:.3f} | {t * 1e3:.3f} | {t / o:.2f}x |")
    batch = [rng.random((100, 20)) for _ in range(64)]
    ours, theirs = [], []
    for _ in range(max(args.repeat, 7)):
        ours += timed(lambda: coordexp.linear_sum_assignment_batch(batch), 1)
        theirs += timed(lambda: [scipy.optimize.linear_sum_assignment(c) for c in batch], 1)
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"| 64 x (100 x 20), batch vs a loop over scipy | {o * 1e3:.3f} | {t * 1e3:.3f} | {t / o:.2f}x |")


def resident_peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_resident_peak():
    with open("/proc/self/clear_refs", "w") as f:  # VmHWM restarts from the current resident size
        f.write("5")


def coord_expectation_rows(args):
    """Forward + backward of CoordExp at P positions: coordexp.torch (K head rows only) against plain
    PyTorch autograd on full-vocabulary logits, float32, one thread count for both; each step's own
    resident peak (VmHWM reset before it) over the resident size before it."""
    import torch

    import coordexp.torch as cxt
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    P, D, V, K = 512, 1536, 151936, 1000  # Qwen2-VL-2B's width and vocabulary; the coordinate rows are the last K
    hidden = torch.randn(P, D, requires_grad=True)
    frozen_rows = torch.randn(V - K, D) * 0.02  # the pretrained rows: no gradient
    coord_rows = (torch.randn(K, D) * 0.02).requires_grad_()  # the coordinate tokens' rows: trained
    bins = torch.linspace(0, 1, K)
    g = torch.randn(P)

    def ours():
        c = cxt.coord_expectation(hidden, coord_rows, tau=1.0)
        torch.autograd.grad(c, (hidden, coord_rows), g)

    def plain():  # the LM head's logits over the whole vocabulary, then the coordinate slice
        logits = torch.cat([hidden @ frozen_rows.T, hidden @ coord_rows.T], dim=1)  # [P, V]
        c = torch.softmax(logits[:, V - K:], dim=1) @ bins
        torch.autograd.grad(c, (hidden, coord_rows), g)

    rows = {}
    for _ in range(max(args.repeat, 5)):
        for name, fn in (("coordexp.torch.coord_expectation", ours), ("PyTorch autograd on full-V logits", plain)):
            reset_resident_peak()
            before = resident_peak_mb()
            t0 = time.perf_counter()
            fn()
            t = time.perf_counter() - t0
            rows.setdefault(name, []).append((t, resident_peak_mb() - before))
    print(f"\nCoordExp forward + backward, P={P}, D={D}, V={V}, K={K}, float32, {torch.get_num_threads()} threads:\n")
    print("| implementation | ms, median (min-max) | step's resident peak over its start, MB |")
    print("| --- | --- | --- |")
    for name, r in rows.items():
        ts = [x[0] for x in r]
        print(f"| {name} | {statistics.median(ts) * 1e3:.1f} ({min(ts) * 1e3:.1f}-{max(ts) * 1e3:.1f}) | "
              f"{statistics.median(x[1] for x in r):.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--dt", required=True)
    ap.add_argument("--pycocotools", default="")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=["coco", "assignment", "coord"], default=None)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    if args.only in (None, "coco"):
        coco_rows(args)
    if args.only in (None, "assignment"):
        assignment_rows(args)
    if args.only in (None, "coord"):
        coord_expectation_rows(args)


if __name__ == "__main__":
    main()
