"""lvis-api's LVIS, LVISResults and LVISEval (bbox) on coordexp's LVIS evaluator: change the import, keep the code.

    from coordexp.lvis import LVIS, LVISResults, LVISEval   # instead of lvis
    gt = LVIS("lvis_v1_val.json")                            # a path or a dict
    dt = LVISResults(gt, "detections.json")                  # a path, a list of dicts or an (N, 7) array
    E = LVISEval(gt, dt, iou_type="bbox")
    E.params.cat_ids = [1, 3]      # img_ids, cat_ids, iou_thrs, rec_thrs, area_rng, area_rng_lbl, max_dets
    E.run(); E.print_results()
    E.get_results()                # {"AP": ..., ..., "ARl@300": ...}, lvis-api's 13 keys in its order
    E.eval["precision"]            # [T, R, K, A], and E.eval["recall"] [T, K, A], as lvis-api

The numbers are lvis-api's and `coordexp eval --lvis`'s (the repository's parity tests pin them).
Differences, all documented in docs/python.md: only iou_type "bbox" (the default here; lvis-api's is
"segm"); evaluate() does the work of evaluate() and accumulate() together and keeps no eval_imgs / ious
and no eval["dt_pointers"]; results on images the ground truth does not hold raise ValueError when
LVISResults is made (lvis-api asserts); params lvis-api would fail on or silently misread (ids the ground
truth does not hold, repeated ids or labels, use_cats = 0) raise ValueError.
"""
import json
import logging
import os
import time
from collections import OrderedDict

import numpy as np

from . import _coordexp
from .cocotools import _GroundTruth, _plain

__all__ = ["LVIS", "LVISResults", "LVISEval", "Params"]


class LVIS(_GroundTruth):
    """An LVIS ground-truth file (a path or a dict) as lvis-api's LVIS holds it."""

    def __init__(self, annotation_path):
        self._read(annotation_path, "annotation_path")

    # ------------------------------------------------------------------- lvis-api's lookups (lazy index)
    def _build_index(self):
        if self._index is None:
            d = self.dataset
            img_ann_map, cat_img_map = {}, {}
            for a in d["annotations"]:
                img_ann_map.setdefault(a["image_id"], []).append(a)
                cat_img_map.setdefault(a["category_id"], []).append(a["image_id"])
            self._index = ({a["id"]: a for a in d["annotations"]}, {c["id"]: c for c in d["categories"]},
                           {im["id"]: im for im in d["images"]}, img_ann_map, cat_img_map)
        return self._index

    anns = property(lambda self: self._build_index()[0])
    cats = property(lambda self: self._build_index()[1])
    imgs = property(lambda self: self._build_index()[2])
    img_ann_map = property(lambda self: self._build_index()[3])
    cat_img_map = property(lambda self: self._build_index()[4])

    def get_ann_ids(self, img_ids=None, cat_ids=None, area_rng=None):
        anns = ([a for i in img_ids for a in self.img_ann_map.get(i, [])] if img_ids is not None
                else self.dataset["annotations"])
        if cat_ids is None and area_rng is None:
            return [a["id"] for a in anns]
        cat_ids = set(cat_ids) if cat_ids is not None else None
        lo, hi = area_rng if area_rng is not None else (0, float("inf"))
        return [a["id"] for a in anns
                if (cat_ids is None or a["category_id"] in cat_ids) and lo < a["area"] < hi]

    def get_cat_ids(self):
        return [int(i) for i in dict.fromkeys(self._gt.category_ids().tolist())]

    def get_img_ids(self):
        return [int(i) for i in dict.fromkeys(self._gt.image_ids().tolist())]

    def load_anns(self, ids=None):
        return _load(self.anns, ids)

    def load_cats(self, ids=None):
        return _load(self.cats, ids)

    def load_imgs(self, ids=None):
        return _load(self.imgs, ids)


def _load(table, ids):
    return list(table.values()) if ids is None else [table[i] for i in ids]


class LVISResults(LVIS):
    """Results for `lvis_gt` as lvis-api's LVISResults reads them: a results JSON path, a list of dicts
    (image_id, category_id, bbox [x, y, w, h], score) or an (N, 7) array of rows
    [image_id, x, y, w, h, score, category_id]. Only the max_dets highest-scoring results of each image are
    evaluated (across categories; max_dets < 0: all). Malformed entries and results on images the ground
    truth does not hold raise ValueError naming the entry and field, as `coordexp eval --lvis` does."""

    def __init__(self, lvis_gt, results, max_dets=300):
        if isinstance(lvis_gt, (str, os.PathLike, dict)):
            lvis_gt = LVIS(lvis_gt)
        elif not isinstance(lvis_gt, LVIS):
            raise TypeError("lvis_gt: an LVIS, a path or a dict, got " + type(lvis_gt).__name__)
        self._gt = lvis_gt._gt
        self._gt_lvis = lvis_gt
        self._index = None
        self._dict = None
        self.max_dets = int(max_dets)
        self._results = _read_results(results)
        _coordexp.check_lvis_results(self._gt, self._results)

    @property
    def dataset(self):
        """The ground truth's images and categories with the results as annotations (lvis-api's layout:
        the cap applied, "area" and "id" added), built on first use only."""
        if self._dict is None:
            raise NotImplementedError("LVISResults.dataset: the results are held by the C++ evaluator; "
                                      "read the results file or list you passed instead")
        return self._dict


def _read_results(results):
    if isinstance(results, (str, os.PathLike)):
        return _coordexp.DetectionResults.load(os.fspath(results))
    if isinstance(results, np.ndarray):
        if results.ndim != 2 or results.shape[1] != 7:
            raise ValueError("results: an (N, 7) array of [image_id, x, y, w, h, score, category_id], "
                             f"got shape {results.shape}")
        return _coordexp.DetectionResults.from_array(np.ascontiguousarray(results, dtype=np.float64), "results")
    if isinstance(results, (list, tuple)):
        out = _coordexp.DetectionResults.from_list(list(results), "results")
        if out is None:  # an entry not in the plain form: the JSON reader names what is wrong
            try:
                text = json.dumps(results, allow_nan=True, default=_plain)
            except TypeError as e:
                raise TypeError(f"results: a list of JSON-serialisable dicts ({e})") from e
            out = _coordexp.DetectionResults.parse(text, "results")
        return out
    raise TypeError("results: a path, a list of dicts or an (N, 7) numpy array, got " + type(results).__name__)


class Params:
    """lvis-api's Params for iou_type 'bbox' (the same defaults). max_dets names the AR keys and the
    printed lines only, as in lvis-api: the cap itself is LVISResults' max_dets."""

    def __init__(self, iou_type="bbox"):
        _check_iou_type(iou_type)
        self.img_ids = []
        self.cat_ids = []
        self.iou_thrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.rec_thrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.max_dets = 300
        self.area_rng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        self.area_rng_lbl = ["all", "small", "medium", "large"]
        self.use_cats = 1
        self.img_count_lbl = ["r", "c", "f"]
        self.iou_type = iou_type


def _check_iou_type(iou_type):
    if iou_type != "bbox":
        raise ValueError(f"iou_type {iou_type!r}: coordexp evaluates boxes only ('bbox'); segm and boundary "
                         "IoU need masks, which coordexp does not read")


def _unique_ids(ids, name):
    ids = [int(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError(f"params.{name}: each id once (lvis-api would evaluate a repeated id twice), "
                         f"got {sorted(i for i in set(ids) if ids.count(i) > 1)} repeated")
    return ids


class LVISEval:
    """lvis-api's LVISEval for boxes. `threads` (not in lvis-api): worker threads, 0 = every core; the
    numbers are the same at any count."""

    def __init__(self, lvis_gt, lvis_dt, iou_type="bbox", threads=0):
        _check_iou_type(iou_type)
        if isinstance(lvis_gt, (str, os.PathLike)):
            lvis_gt = LVIS(lvis_gt)
        elif not isinstance(lvis_gt, LVIS):
            raise TypeError("lvis_gt: an LVIS or a path, got " + type(lvis_gt).__name__)
        if isinstance(lvis_dt, (str, os.PathLike, list, np.ndarray)):
            lvis_dt = LVISResults(lvis_gt, lvis_dt)
        elif not isinstance(lvis_dt, LVISResults):
            raise TypeError("lvis_dt: an LVISResults, a path, a list of dicts or an (N, 7) array, got "
                            + type(lvis_dt).__name__)
        self.lvis_gt = lvis_gt
        self.lvis_dt = lvis_dt
        self.params = Params(iou_type)
        self.threads = threads
        self.eval = {}
        self.results = OrderedDict()
        self._result = None
        self.params.img_ids = sorted(lvis_gt.get_img_ids())
        self.params.cat_ids = sorted(lvis_gt.get_cat_ids())

    def _spec(self):
        """The params as the C++ evaluator takes them, after the checks lvis-api does not make."""
        p = self.params
        _check_iou_type(p.iou_type)
        if not p.use_cats:
            raise ValueError("params.use_cats = 0: coordexp's LVIS evaluation is per category only "
                             "(lvis-api's use_cats = 0 path fails in its frequency groups as well)")
        labels = list(p.area_rng_lbl)
        if len(labels) != len(p.area_rng) or len(set(labels)) != len(labels):
            raise ValueError(f"params.area_rng_lbl: one distinct label per area range, got {labels} for "
                             f"{len(p.area_rng)} ranges")
        for a, rng in enumerate(p.area_rng):
            if len(rng) != 2:
                raise ValueError(f"params.area_rng[{a}]: [min_area, max_area], got {list(rng)}")
        gt_imgs, gt_cats = set(self.lvis_gt.get_img_ids()), set(self.lvis_gt.get_cat_ids())
        img_ids = sorted({int(i) for i in p.img_ids})  # lvis-api: np.unique
        cat_ids = _unique_ids(p.cat_ids, "cat_ids")
        for name, ids, known in (("img_ids", img_ids, gt_imgs), ("cat_ids", cat_ids, gt_cats)):
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise ValueError(f"params.{name}: ids the ground truth holds, found {len(unknown)} it does "
                                 f"not: {unknown[:5]}")
        return {
            "iou_thrs": [float(t) for t in p.iou_thrs],
            "rec_thrs": [float(r) for r in p.rec_thrs],
            "area_rng": [[float(lo), float(hi)] for lo, hi in p.area_rng],
            "area_rng_lbl": labels,
            "img_ids": None if set(img_ids) == gt_imgs else img_ids,
            "cat_ids": None if set(cat_ids) == gt_cats else cat_ids,
            "max_dets_per_image": self.lvis_dt.max_dets,
        }, img_ids, cat_ids

    def evaluate(self):
        """lvis-api's evaluate and accumulate in one C++ call; accumulate() then fills eval."""
        spec, img_ids, cat_ids = self._spec()
        self.params.img_ids = img_ids
        r = _coordexp.evaluate_lvis(self.lvis_gt._gt, self.lvis_dt._results, spec, int(self.threads))
        # the C++ K axis is in sorted id order; lvis-api's is params.cat_ids' order
        k_of = {int(c): k for k, c in enumerate(r["cat_ids"])}
        order = np.array([k_of[c] for c in cat_ids], dtype=np.int64)
        r["precision"] = r["precision"][:, :, order, :]
        r["recall"] = r["recall"][:, order, :]
        r["frequency"] = [r["frequency"][k] for k in order]
        self._result = r
        self._params_used = self.params

    def accumulate(self):
        if self._result is None:
            raise RuntimeError("Please run evaluate() first.")
        r = self._result
        T, R, K, A = r["precision"].shape
        self.eval = {
            "params": self._params_used,
            "counts": [T, R, K, A],
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "precision": r["precision"],
            "recall": r["recall"],
        }
        self.freq_groups = [[k for k, f in enumerate(r["frequency"]) if f == g] for g in "rcf"]

    def summarize(self):
        if not self.eval:
            raise RuntimeError("Please run accumulate() first.")
        m = self.params.max_dets
        names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf",
                 f"AR@{m}", f"ARs@{m}", f"ARm@{m}", f"ARl@{m}"]
        self.results = OrderedDict((n, float(v)) for n, v in zip(names, self._result["stats"]))

    def run(self):
        self.evaluate()
        self.accumulate()
        self.summarize()

    def print_results(self):
        """lvis-api's lines, e.g.
        ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=all] = 0.123'."""
        thrs = self.params.iou_thrs
        for key, value in self.results.items():
            ap = key.startswith("AP")
            c = key[2] if len(key) > 2 else ""
            iou = f"{float(key[2:]) / 100:0.2f}" if c.isdigit() else f"{thrs[0]:0.2f}:{thrs[-1]:0.2f}"
            group = c if c in ("r", "c", "f") else "all"
            area = c if c in ("s", "m", "l") else "all"
            print(" {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} catIds={:>3s}] = {:0.3f}".format(
                "Average Precision" if ap else "Average Recall", "(AP)" if ap else "(AR)", iou, area,
                self.params.max_dets, group, value))

    def get_results(self):
        if not self.results:
            logging.getLogger(__name__).warning("results is empty. Call run().")
        return self.results
