"""coordexp for Python: the parts of the coordexp C++ library that Python users reach for.

- ``coordexp.linear_sum_assignment(cost, maximize=False)``: scipy.optimize.linear_sum_assignment's interface,
  the same optimum, faster; ``coordexp.linear_sum_assignment_batch(costs)`` solves many matrices on every
  core with the GIL released.
- ``coordexp.cocotools``: ``COCO`` and ``COCOeval`` with pycocotools' interface (bbox), the same numbers.

See docs/python.md in the repository for what differs from the originals and what is not built yet.
"""
from ._assignment import linear_sum_assignment, linear_sum_assignment_batch

__all__ = ["linear_sum_assignment", "linear_sum_assignment_batch"]
__version__ = "0.1.0"
