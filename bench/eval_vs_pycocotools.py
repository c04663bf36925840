#!/usr/bin/python3
"""Whole-process evaluation timings, side by side in one run: bench_eval_process (the library in a small
torch-free program), an optional baseline build of it, `coordexp eval`, pycocotools and the numpy
re-implementations in tests/eval/ref, on the same files. Each run is one process timed from outside (wall
time from start to exit, peak resident memory from wait4); repetitions are interleaved and the medians
reported. The stats of every program on a case must agree (to 1e-12; "identical" when bit-equal).

  /usr/bin/python3 bench/eval_vs_pycocotools.py --driver BUILD/bench/bench_eval_process --cases DIR \
      [--baseline OLD/bench/bench_eval_process] [--coordexp build/tools/coordexp] \
      [--pycocotools SRC/PythonAPI] [--val2014 DIR] [--lvis-gt lvis_val_100.json] [--repeat 5] [--no-numpy]

--cases DIR is filled by `bench_eval_process make-cases DIR [LVIS_GT]` when empty (--lvis-gt: LVIS_GT, e.g.
the 100 LVIS v1 val images of faster_coco_eval's tests, is rewritten there with its detections). --val2014 DIR holds
instances_val2014_100.json and instances_val2014_fakebbox100_results.json (real COCO annotations of 100
val2014 images and cocoapi's example results, as faster_coco_eval's tests ship them). pycocotools is taken
from --pycocotools (a source tree built in place) or the Python path. Prints a markdown table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, '..', 'tests', 'eval', 'ref')

PYCOCOTOOLS = r'''
import contextlib, io, json, sys
if sys.argv[3]:
    sys.path.insert(0, sys.argv[3])
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1])
    ev = COCOeval(gt, gt.loadRes(sys.argv[2]), 'bbox')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
print(json.dumps({'stats': [float(x) for x in ev.stats]}))
'''


def stats_of(cmd):
    """The "stats" list a program prints (a JSON line, or `coordexp eval --json`'s indented object)."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}')
    for line in proc.stdout.splitlines():
        if line.strip().startswith('{') and '"stats"' in line:
            return json.loads(line)['stats']
    return json.loads(proc.stdout)['stats']


def measure(cmd):
    """Wall seconds from fork to exit, CPU seconds (user + system, all threads), the peak resident MB of that
    process alone (wait4) and its stdout."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
                os.execv(cmd[0], cmd)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f'{" ".join(cmd)} failed (status {status})')
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, out.read().decode()


STEPS = ['load_gt', 'load_dt', 'index', 'evaluate', 'accumulate', 'summarize', 'total']


def print_steps(todo, progs, steps):
    """Medians of bench_eval_process's own step timings (inside the process, start-up excluded)."""
    print('\n| case | program | JSON MB/s | ' + ' | '.join(STEPS) + ' (s, medians) |')
    print('| --- | --- | --- | ' + ' | '.join('---' for _ in STEPS) + ' |')
    for name, *_ in todo:
        for prog in progs:
            runs = steps.get((name, prog))
            if not runs:
                continue
            mbs = statistics.median(r['load_mb_per_s'] for r in runs)
            cols = ' | '.join(f'{statistics.median(r["seconds"][k] for r in runs):.3f}' for k in STEPS)
            print(f'| {name} | {prog} | {mbs:.0f} | {cols} |')


def programs(args):
    py = '/usr/bin/python3'
    out = {}
    out['coordexp (bench_eval_process)'] = lambda gt, dt, lvis: [args.driver, 'eval', gt, dt] + (['--lvis'] if lvis else [])
    if args.baseline:
        out['before (bench_eval_process)'] = lambda gt, dt, lvis: [args.baseline, 'eval', gt, dt] + (['--lvis'] if lvis else [])
    if args.coordexp:
        out['coordexp eval'] = lambda gt, dt, lvis: [args.coordexp, 'eval', '--gt', gt, '--dt', dt, '--json',
                                                     '--lvis' if lvis else '--coco']
    out['pycocotools'] = lambda gt, dt, lvis: None if lvis else [py, '-c', PYCOCOTOOLS, gt, dt, args.pycocotools or '']
    if not args.no_numpy:
        out['numpy reference'] = lambda gt, dt, lvis: (
            [py, os.path.join(REF, 'lvis_eval_ref.py'), gt, dt] if lvis else [py, os.path.join(REF, 'cocoeval_ref.py'), gt, dt])
    return out


def cases(args):
    c = args.cases
    lvis_gt = os.path.join(c, 'lvis_gt.json')  # as make-cases wrote it: with iscrowd 0, which pycocotools needs
    out = [('COCO-val-sized: 5,000 images, 34,490 boxes, 98,114 detections',
            os.path.join(c, 'coco_val_gt.json'), os.path.join(c, 'coco_val_dt.json'), False, set())]
    if args.val2014:
        out.append(('COCO val2014, 100 images (real annotations, cocoapi fake results)',
                    os.path.join(args.val2014, 'instances_val2014_100.json'),
                    os.path.join(args.val2014, 'instances_val2014_fakebbox100_results.json'), False, set()))
    out.append(('1 image x 80 categories', os.path.join(c, 'one_image_gt.json'),
                os.path.join(c, 'one_image_dt.json'), False, set()))
    out.append(('LVIS 100 images x 1,230 categories, COCO metrics (--coco)', lvis_gt,
                os.path.join(c, 'lvis_dt.json'), False, set()))
    out.append(('LVIS 100 images x 1,230 categories, LVIS metrics (--lvis)', lvis_gt,
                os.path.join(c, 'lvis_dt.json'), True, set()))
    out.append(('1,358,996 detections (215 MB of JSON) on 5,000 images', os.path.join(c, 'big_gt.json'),
                os.path.join(c, 'big_dt.json'), False, {'pycocotools', 'numpy reference'}))
    return out


def load_report():
    with open('/proc/loadavg') as f:
        load = f.read().split()[:3]
    top = subprocess.run(['ps', '-eo', 'pcpu,comm', '--sort=-pcpu'], capture_output=True, text=True).stdout
    busy = [l.strip() for l in top.splitlines()[1:6] if l.strip() and float(l.split()[0]) >= 5]
    return f'load average {" ".join(load)}; busy: {", ".join(busy) or "nothing else above 5% CPU"}'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--driver', required=True)
    ap.add_argument('--baseline')
    ap.add_argument('--coordexp')
    ap.add_argument('--pycocotools')
    ap.add_argument('--cases', required=True)
    ap.add_argument('--val2014')
    ap.add_argument('--lvis-gt')
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--no-numpy', action='store_true')
    ap.add_argument('--only', help='substring of the case names to run')
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.cases, 'big_dt.json')):
        cmd = [args.driver, 'make-cases', args.cases] + ([args.lvis_gt] if args.lvis_gt else [])
        subprocess.run(cmd, check=True)
    progs = programs(args)
    todo = [c for c in cases(args) if not args.only or args.only in c[0]]
    print(f'start: {load_report()}', file=sys.stderr)
    # Stats once per (case, program), then interleaved timed repetitions.
    stats, times, cpus, peaks, steps = {}, {}, {}, {}, {}
    for name, gt, dt, lvis, skip in todo:
        for prog, make in progs.items():
            cmd = make(gt, dt, lvis)
            if cmd is None or prog in skip:
                continue
            stats[name, prog] = stats_of(cmd)
            times[name, prog], cpus[name, prog], peaks[name, prog] = [], [], []
    for rep in range(args.repeat):
        for name, gt, dt, lvis, skip in todo:
            for prog, make in progs.items():
                if (name, prog) not in stats:
                    continue
                wall, cpu, rss, out = measure(make(gt, dt, lvis))
                times[name, prog].append(wall)
                cpus[name, prog].append(cpu)
                peaks[name, prog].append(rss)
                if 'bench_eval_process' in prog:
                    steps.setdefault((name, prog), []).append(json.loads(out.strip().splitlines()[-1]))
        print(f'round {rep + 1}/{args.repeat} done: {load_report()}', file=sys.stderr)
    print(f'end: {load_report()}\n', file=sys.stderr)
    print('| case | program | wall s, median (min-max) | CPU s | peak MB | x pycocotools | x numpy ref | stats |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for name, gt, dt, lvis, skip in todo:
        ran = [p for p in progs if (name, p) in stats]
        ref_prog = 'pycocotools' if 'pycocotools' in ran else ran[0]
        ref = stats[name, ref_prog]
        base = statistics.median(times[name, 'pycocotools']) if 'pycocotools' in ran else None
        numpy = statistics.median(times[name, 'numpy reference']) if 'numpy reference' in ran else None
        for prog in ran:
            t = times[name, prog]
            med = statistics.median(t)
            diff = max(abs(a - b) for a, b in zip(stats[name, prog], ref))
            if len(stats[name, prog]) != len(ref) or diff > 1e-12:
                raise SystemExit(f'{name}: {prog} disagrees with {ref_prog}: {stats[name, prog]} vs {ref}')
            same = 'identical' if stats[name, prog] == ref else f'within {diff:.0e}'
            ratio = f'{base / med:.1f}x' if base else ''
            ratio_numpy = f'{numpy / med:.1f}x' if numpy else ''
            print(f'| {name} | {prog} | {med:.3f} ({min(t):.3f}-{max(t):.3f}) | '
                  f'{statistics.median(cpus[name, prog]):.3f} | {statistics.median(peaks[name, prog]):.0f} | '
                  f'{ratio} | {ratio_numpy} | {same} |')

    print_steps(todo, progs, steps)


if __name__ == '__main__':
    main()
