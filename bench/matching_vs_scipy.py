"""Assignment solvers side by side on identical matrices: coordexp (bench_matching --cases), scipy's
linear_sum_assignment (timed here, time.process_time around the calls) and, when --lapjv names one, a LAPJV
driver built outside the repository (docs/benchmarks.md). Writes the matrices once, then runs every
solver once per round in a rotating order (interleaved rounds) and prints the median per-call CPU time of each
solver, the ratios, and whether the optimal totals agree. Run: bench/matching_vs_scipy.sh

  matching_vs_scipy.py --ours BIN [--lapjv BIN] [--extra NAME=BIN ...] [--rounds 7] [--more] [--dir DIR]
  matching_vs_scipy.py --scipy-worker DIR     (internal: one round of scipy)
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# name, rows, cols, kind, matrices, calls per matrix. Kinds: "u" uniform [0, 1); "tL" integers 0..L-1 (ties);
# "hard" LAPJV's hard integers (1..100 plus a random offset per row and per column, from lap's benchmarks);
# "eucl" distances between two random point sets; "lowrank" an outer product a b^T.
CASES = [
    ("u10x10", 10, 10, "u", 50, 200),
    ("u100x100", 100, 100, "u", 20, 10),
    ("u300x300", 300, 300, "u", 10, 2),
    ("u1000x1000", 1000, 1000, "u", 3, 1),
    ("u100x300", 100, 300, "u", 20, 5),
    ("u300x100", 300, 100, "u", 20, 5),
    ("u1000x200", 1000, 200, "u", 5, 2),
    ("t10_100x100", 100, 100, "t10", 20, 10),
    ("t10_300x300", 300, 300, "t10", 10, 2),
    ("t10_1000x1000", 1000, 1000, "t10", 3, 1),
    ("t100_100x100", 100, 100, "t100", 20, 10),
    ("t100_300x300", 300, 300, "t100", 10, 2),
    ("t100_1000x1000", 1000, 1000, "t100", 3, 1),
    ("t10_1000x200", 1000, 200, "t10", 5, 2),
    ("batch64_100x20", 100, 20, "u", 64, 20),  # DETR-style: 64 images, 100 queries x 20 objects
    ("batch64_300x50", 300, 50, "u", 64, 3),  # Deformable-DETR-style: 300 queries x 50 objects
]
# --more: other matrix families, where row reduction chains or ties behave differently.
MORE_CASES = [
    ("hard_300x300", 300, 300, "hard", 5, 2),
    ("hard_1000x1000", 1000, 1000, "hard", 2, 1),
    ("eucl_1000x1000", 1000, 1000, "eucl", 2, 1),
    ("eucl_300x1000", 300, 1000, "eucl", 5, 2),
    ("lowrank_500x500", 500, 500, "lowrank", 2, 1),
]


def make_matrix(rng, n, m, kind):
    if kind == "u":
        return rng.random((n, m))
    if kind.startswith("t"):
        return rng.integers(0, int(kind[1:]), size=(n, m)).astype(np.float64)
    if kind == "hard":
        c = rng.integers(1, 101, size=(n, m)) + rng.integers(0, 100, size=(n, 1)) + rng.integers(0, 100, size=(1, m))
        return c.astype(np.float64)
    if kind == "eucl":
        a, b = rng.random((n, 2)), rng.random((m, 2))
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    if kind == "lowrank":
        return np.outer(rng.random(n), rng.random(m))
    raise ValueError(kind)


def generate(directory, cases):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "cases.txt"), "w") as listing:
        for seed, (name, n, m, kind, count, reps) in enumerate(cases):
            rng = np.random.default_rng(1000 + seed)
            c = np.stack([make_matrix(rng, n, m, kind) for _ in range(count)])
            c.tofile(os.path.join(directory, name + ".f64"))
            listing.write(f"{name} {n} {m} {count} {reps} {name}.f64\n")


def read_cases(directory):
    with open(os.path.join(directory, "cases.txt")) as listing:
        for line in listing:
            name, n, m, count, reps, file = line.split()
            n, m, count, reps = int(n), int(m), int(count), int(reps)
            c = np.fromfile(os.path.join(directory, file), dtype=np.float64).reshape(count, n, m)
            yield name, [np.ascontiguousarray(c[k]) for k in range(count)], reps


def scipy_worker(directory):
    from scipy.optimize import linear_sum_assignment

    for name, mats, reps in read_cases(directory):
        checksum = 0.0
        for c in mats:  # also the warm-up
            r, k = linear_sum_assignment(c)
            checksum += c[r, k].sum()
        t0, w0 = time.process_time(), time.perf_counter()
        for _ in range(reps):
            for c in mats:
                linear_sum_assignment(c)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        calls = reps if name.startswith("batch") else reps * len(mats)
        label = name + "/loop" if name.startswith("batch") else name
        print(f"{label} {cpu / calls:.9g} {wall / calls:.9g} {checksum!r}", flush=True)


def run_solver(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        label, cpu, wall, checksum = line.split()
        rows[label] = (float(cpu), float(wall), float(checksum))
    return rows


def load():
    return open("/proc/loadavg").read().split()[0]


def fmt_us(seconds):
    us = seconds * 1e6
    return f"{us:.3g}" if us < 1000 else f"{us:.0f}"


def print_table(solvers, times, checks):
    names = list(solvers)
    labels = list(times[names[0]])
    print("| case | " + " | ".join(f"{n} µs" for n in names) + " | "
          + " | ".join(f"{n} / coordexp" for n in names[1:]) + " | optimum |")
    print("| --- " * (2 * len(names) + 1) + "|")
    for label in labels:
        med = {n: statistics.median(r[0] for r in times[n][label]) if label in times[n] else None for n in names}
        ours = med[names[0]]
        cells = [fmt_us(med[n]) if med[n] is not None else "-" for n in names]
        ratios = [f"{med[n] / ours:.2f}" if med[n] is not None else "-" for n in names[1:]]
        ref = checks[names[0]].get(label)
        agree = all(abs(checks[n][label] - ref) <= 1e-9 * max(1.0, abs(ref)) for n in names if label in checks[n])
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + f" | {'same' if agree else 'DIFFERENT'} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours")
    ap.add_argument("--lapjv")
    ap.add_argument("--extra", action="append", default=[], help="NAME=BIN, another bench_matching build")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dir", default="/tmp/coordexp_lsap_cases")
    ap.add_argument("--more", action="store_true", help="also the other matrix families (MORE_CASES)")
    ap.add_argument("--scipy-worker")
    args = ap.parse_args()
    if args.scipy_worker:
        return scipy_worker(args.scipy_worker)
    generate(args.dir, CASES + (MORE_CASES if args.more else []))
    solvers = {"coordexp": [args.ours, "--cases", args.dir]}
    for extra in args.extra:
        name, binary = extra.split("=", 1)
        solvers[name] = [binary, "--cases", args.dir]
    solvers["scipy"] = [sys.executable, os.path.abspath(__file__), "--scipy-worker", args.dir]
    if args.lapjv:
        solvers["LAPJV"] = [args.lapjv, args.dir]
    times = {n: {} for n in solvers}
    checks = {n: {} for n in solvers}
    loads = [load()]
    order = list(solvers)
    for r in range(args.rounds):
        for name in order[r % len(order):] + order[: r % len(order)]:
            for label, (cpu, wall, checksum) in run_solver(solvers[name]).items():
                times[name].setdefault(label, []).append((cpu, wall))
                checks[name][label] = checksum
        loads.append(load())
    print(f"{args.rounds} interleaved rounds, median CPU time per call (per batch for batch*); 1-minute load "
          "average at the start and after each round: "
          + " ".join(loads))
    print_table(solvers, times, checks)
    walls = {f"{n} {label}": statistics.median(w for _, w in times[n][label])
             for n in solvers for label in times[n] if label.startswith("batch")}
    print("batches, wall time per batch (median µs): " + ", ".join(f"{k} {fmt_us(v)}" for k, v in walls.items()))


if __name__ == "__main__":
    main()
