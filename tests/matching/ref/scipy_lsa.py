"""Reference for test_matching: reads cost matrices, writes scipy's linear_sum_assignment of each."""
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def main(src, dst):
    with open(src) as f:
        tokens = f.read().split()
    pos = 0
    count = int(tokens[pos]); pos += 1
    with open(dst, "w") as out:
        for _ in range(count):
            n, m = int(tokens[pos]), int(tokens[pos + 1]); pos += 2
            c = np.array([float(x) for x in tokens[pos:pos + n * m]]).reshape(n, m); pos += n * m
            r, k = linear_sum_assignment(c)
            out.write(f"{len(r)} {c[r, k].sum()!r}\n")
            out.write(" ".join(map(str, r)) + "\n" + " ".join(map(str, k)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
