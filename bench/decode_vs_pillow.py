"""Decode + resize to SIZE x SIZE of every JPEG photo in a folder: coordexp (bench_image_decode) and Pillow
(python3-pil: Image.open + convert("RGB") + resize(BICUBIC), and the same with draft("RGB", size) first),
side by side in one run, at each thread count, alternating per thread count. Pillow's pool is a
multiprocessing.Pool of the same size (1 thread: in-process); each side reports the median images/s over
its repetitions after one warm-up pass. Run: bench/decode_vs_pillow.sh"""
import argparse
import glob
import json
import multiprocessing
import os
import statistics
import subprocess
import time

from PIL import Image

SIZE = 448


def pillow_plain(path):
    with Image.open(path) as im:
        return im.convert("RGB").resize((SIZE, SIZE), Image.BICUBIC).getpixel((0, 0))[0]


def pillow_draft(path):
    with Image.open(path) as im:
        im.draft("RGB", (SIZE, SIZE))
        return im.convert("RGB").resize((SIZE, SIZE), Image.BICUBIC).getpixel((0, 0))[0]


def pillow_ips(fn, paths, threads, repetitions):
    def one_pass(pool):
        start = time.perf_counter()
        if pool is None:
            for p in paths:
                fn(p)
        else:
            for _ in pool.imap_unordered(fn, paths, chunksize=4):
                pass
        return len(paths) / (time.perf_counter() - start)

    pool = multiprocessing.Pool(threads) if threads > 1 else None
    try:
        one_pass(pool)  # warm-up: page cache, worker start
        return statistics.median(one_pass(pool) for _ in range(repetitions))
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def coordexp_ips(binary, images, threads, repetitions, resize):
    out = subprocess.run([binary, "--images", images, "--size", str(SIZE), "--threads", str(threads),
                          "--repetitions", str(repetitions), "--resize", resize],
                         check=True, capture_output=True, text=True).stdout
    return {r["mode"]: r["median_ips"] for r in map(json.loads, out.splitlines())}


def main():
    global SIZE
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--coordexp", required=True, help="path of the bench_image_decode binary")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--resize", default="bicubic_pil", choices=["bicubic_pil", "bilinear"])
    args = ap.parse_args()
    SIZE = args.size
    paths = sorted(glob.glob(os.path.join(args.images, "*.jpg")))
    print(f"{len(paths)} photos in {args.images}, decode + resize to {SIZE}x{SIZE}, median of "
          f"{args.repetitions} passes; coordexp resize: {args.resize}, Pillow: BICUBIC; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    rows = []
    for t in args.threads:
        ours = coordexp_ips(args.coordexp, args.images, t, args.repetitions, args.resize)
        plain = pillow_ips(pillow_plain, paths, t, args.repetitions)
        draft = pillow_ips(pillow_draft, paths, t, args.repetitions)
        rows.append((t, ours["full"], plain, ours["dct"], draft))
    print()
    print(f"{'threads':>7} | {'coordexp full':>13} {'Pillow':>8} {'ratio':>6} | {'coordexp DCT':>12} "
          f"{'Pillow draft':>12} {'ratio':>6} | {'DCT / Pillow':>12}")
    for t, full, plain, dct, draft in rows:
        print(f"{t:>7} | {full:13.1f} {plain:8.1f} {full / plain:6.2f} | {dct:12.1f} {draft:12.1f} "
              f"{dct / draft:6.2f} | {dct / plain:12.2f}")
    print("(images/s; ratio = coordexp / Pillow; 'DCT / Pillow' = coordexp with DCT scaling over plain Pillow)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
