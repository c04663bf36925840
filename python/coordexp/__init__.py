"""coordexp for Python: the parts of the coordexp C++ library that Python users reach for.

- ``coordexp.linear_sum_assignment(cost, maximize=False)``: scipy.optimize.linear_sum_assignment's interface,
  the same optimum, faster; ``coordexp.linear_sum_assignment_batch(costs)`` solves many matrices on every
  core with the GIL released.
- ``coordexp.cocotools``: ``COCO`` and ``COCOeval`` with pycocotools' interface (bbox), the same numbers.
- ``coordexp.lvis``: ``LVIS``, ``LVISResults`` and ``LVISEval`` with lvis-api's interface (bbox), the same
  numbers as lvis-api and ``coordexp eval --lvis``.
- ``coordexp.parse(tokens_or_text, mode="strict" | "salvage")``: a generated answer (token ids or text with
  ``<obj_start>``, ``<coord_k>``, ``<obj_end>``) -> a list of {"description", "box", "bins", "span"};
  ``coordexp.encode(objects)`` the other way; ``quantize_box`` / ``dequantize_box``; ``TokenIds`` names a
  tokenizer's ids (the codec of coordexp.codec).

See docs/python.md in the repository for what differs from the originals and what is not built yet.
"""
from ._assignment import linear_sum_assignment, linear_sum_assignment_batch
from .codec import PARSE_ISSUES, TokenIds, dequantize_box, encode, parse, quantize_box

__all__ = ["linear_sum_assignment", "linear_sum_assignment_batch", "parse", "encode", "quantize_box",
           "dequantize_box", "TokenIds", "PARSE_ISSUES"]
__version__ = "0.1.0"
