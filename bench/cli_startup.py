#!/usr/bin/python3
"""Whole-process times of coordexp subcommands that need no model, side by side in one run.

Each command line is started --repetitions times, interleaved with the others, and timed from outside: wall
time to exit, CPU time (user + system) and peak resident memory from wait4. Prints a Markdown table of
medians (min-max) with each program's ratio to the first one given for the same command.

Usage (see docs/benchmarks.md#command-line-start-up):
  bench/cli_startup.py --program coordexp=build/tools/coordexp --program before=/tmp/coordexp_before \
      --case 'version=--version' --case 'tokenize=hf-tokenize --model DIR --text-file FILE' ...
"""
import argparse
import os
import shlex
import statistics
import subprocess
import time


def timed(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--program", action="append", required=True, help="NAME=PATH; the first is the baseline")
    ap.add_argument("--case", action="append", required=True, help="NAME=ARGUMENTS after the program")
    ap.add_argument("--repetitions", type=int, default=7)
    args = ap.parse_args()
    programs = [p.split("=", 1) for p in args.program]
    cases = [c.split("=", 1) for c in args.case]
    runs = {(c, p): [] for c, _ in cases for p, _ in programs}
    for _ in range(args.repetitions):
        for case, case_args in cases:
            for name, path in programs:
                runs[(case, name)].append(timed([path] + shlex.split(case_args)))
    print(f"| case | program | wall ms, median (min-max) | CPU ms | peak MB | x {programs[0][0]} |")
    print("| --- | --- | --- | --- | --- | --- |")
    for case, _ in cases:
        base = statistics.median(r[0] for r in runs[(case, programs[0][0])])
        for name, _ in programs:
            walls = [r[0] for r in runs[(case, name)]]
            wall = statistics.median(walls)
            cpu = statistics.median(r[1] for r in runs[(case, name)])
            peak = statistics.median(r[2] for r in runs[(case, name)])
            print(f"| {case} | {name} | {wall * 1e3:.1f} ({min(walls) * 1e3:.1f}-{max(walls) * 1e3:.1f}) | "
                  f"{cpu * 1e3:.1f} | {peak:.0f} | {base / wall:.2f}x |")


if __name__ == "__main__":
    main()
