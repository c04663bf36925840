"""pycocotools' COCO and COCOeval (bbox) on coordexp's evaluator: change the import, keep the code.

    from coordexp.cocotools import COCO, COCOeval   # instead of pycocotools.coco / pycocotools.cocoeval
    gt = COCO("instances_val2017.json")
    dt = gt.loadRes("detections.json")             # a path, a list of dicts, or an (N, 7) numpy array
    E = COCOeval(gt, dt, "bbox")
    E.params.catIds = [1, 3]                        # imgIds, catIds, iouThrs, recThrs, maxDets, areaRng, useCats
    E.evaluate(); E.accumulate(); E.summarize()
    E.stats, E.eval["precision"]                    # numpy arrays of pycocotools' shapes and values

The numbers are pycocotools' (the repository's parity tests pin them). Differences, all documented in
docs/python.md: only iouType "bbox" (segm and keypoints raise NotImplementedError); evaluate() does the
work of evaluate() and accumulate() together and keeps no evalImgs / ious; results on images the ground truth
does not hold raise ValueError (pycocotools asserts); COCO's index dicts (imgs, anns, cats, imgToAnns,
catToImgs) and dataset are built from the JSON on first use only.
"""
import copy
import json
import os
import time

import numpy as np

from . import _coordexp

__all__ = ["COCO", "COCOeval", "Params"]


class _GroundTruth:
    """A ground-truth file (a path or a dict) read at once by the C++ reader; its JSON, as `dataset`, by Python's
    json module on first use only. The base of COCO here and of coordexp.lvis.LVIS."""

    def _read(self, source, argument, allowed="a path or a dict"):
        self._path, self._dict, self._index = None, None, None
        if isinstance(source, dict):
            self._dict = source
            self._gt = _coordexp.CocoDataset.parse(json.dumps(source), "<dict>")
        elif isinstance(source, (str, os.PathLike)):
            self._path = os.fspath(source)
            self._gt = _coordexp.CocoDataset.load(self._path)
        else:
            raise TypeError(f"{argument}: {allowed}, got {type(source).__name__}")

    @property
    def dataset(self):
        if self._dict is None:
            with open(self._path, encoding="utf-8") as f:
                self._dict = json.load(f)
        return self._dict


class COCO(_GroundTruth):
    """A ground-truth file (or, from loadRes, a results list) as pycocotools' COCO holds it."""

    def __init__(self, annotation_file=None):
        if annotation_file is None:
            self._read({"images": [], "annotations": [], "categories": []}, "annotation_file")
        else:
            self._read(annotation_file, "annotation_file", "a path, a dict or None")
        self._results = None  # set on objects made by loadRes

    # ------------------------------------------------------------------ pycocotools' lookups (lazy index)
    def _build_index(self):
        if self._index is None:
            d = self.dataset
            imgs = {im["id"]: im for im in d.get("images", [])}
            anns = {a["id"]: a for a in d.get("annotations", []) if "id" in a}
            cats = {c["id"]: c for c in d.get("categories", [])}
            img_to_anns, cat_to_imgs = {}, {}
            for a in d.get("annotations", []):
                img_to_anns.setdefault(a["image_id"], []).append(a)
                cat_to_imgs.setdefault(a.get("category_id"), []).append(a["image_id"])
            self._index = (imgs, anns, cats, img_to_anns, cat_to_imgs)
        return self._index

    imgs = property(lambda self: self._build_index()[0])
    anns = property(lambda self: self._build_index()[1])
    cats = property(lambda self: self._build_index()[2])
    imgToAnns = property(lambda self: self._build_index()[3])
    catToImgs = property(lambda self: self._build_index()[4])

    def getImgIds(self, imgIds=[], catIds=[]):  # noqa: B006  (pycocotools' signature)
        imgIds = _as_list(imgIds)
        catIds = _as_list(catIds)
        if not imgIds and not catIds:
            return [int(i) for i in self._gt.image_ids()]
        ids = set(imgIds) if imgIds else set(self.imgs)
        for c in catIds:
            ids &= set(self.catToImgs.get(c, []))
        return list(ids)

    def getCatIds(self, catNms=[], supNms=[], catIds=[]):  # noqa: B006
        catNms = _as_list(catNms)
        supNms = _as_list(supNms)
        catIds = _as_list(catIds)
        if not catNms and not supNms and not catIds:
            return [int(i) for i in self._gt.category_ids()]
        cats = list(self.cats.values())
        cats = [c for c in cats if not catNms or c["name"] in catNms]
        cats = [c for c in cats if not supNms or c.get("supercategory") in supNms]
        cats = [c for c in cats if not catIds or c["id"] in catIds]
        return [c["id"] for c in cats]

    def getAnnIds(self, imgIds=[], catIds=[], areaRng=[], iscrowd=None):  # noqa: B006
        imgIds = _as_list(imgIds)
        catIds = _as_list(catIds)
        anns = self.dataset.get("annotations", [])
        if imgIds:
            anns = [a for i in imgIds for a in self.imgToAnns.get(i, [])]
        if catIds:
            anns = [a for a in anns if a["category_id"] in catIds]
        if areaRng:
            anns = [a for a in anns if areaRng[0] < a["area"] < areaRng[1]]
        if iscrowd is not None:
            anns = [a for a in anns if a.get("iscrowd", 0) == iscrowd]
        return [a["id"] for a in anns]

    def loadImgs(self, ids=[]):  # noqa: B006
        return [self.imgs[i] for i in _as_list(ids)]

    def loadCats(self, ids=[]):  # noqa: B006
        return [self.cats[i] for i in _as_list(ids)]

    def loadAnns(self, ids=[]):  # noqa: B006
        return [self.anns[i] for i in _as_list(ids)]

    # ------------------------------------------------------------------------------------------- results
    def loadRes(self, resFile):
        """Results as pycocotools reads them: a results JSON path, a list of dicts (image_id, category_id,
        bbox [x, y, w, h], score), or an (N, 7) array of rows [image_id, x, y, w, h, score, category_id].
        Malformed entries raise ValueError naming the entry and field, as `coordexp eval` does."""
        res = COCO.__new__(COCO)
        res._path, res._dict, res._index = None, None, None
        res._gt = self._gt
        if isinstance(resFile, (str, os.PathLike)):
            res._results = _coordexp.DetectionResults.load(os.fspath(resFile))
        elif isinstance(resFile, np.ndarray):
            if resFile.ndim != 2 or resFile.shape[1] != 7:
                raise ValueError(f"resFile: an (N, 7) array of [image_id, x, y, w, h, score, category_id], "
                                 f"got shape {resFile.shape}")
            res._results = _coordexp.DetectionResults.from_array(
                np.ascontiguousarray(resFile, dtype=np.float64), "resFile")
        elif isinstance(resFile, (list, tuple)):
            res._results = _coordexp.DetectionResults.from_list(list(resFile), "resFile")
            if res._results is None:  # an entry not in the plain form: the JSON reader names what is wrong
                try:
                    text = json.dumps(resFile, allow_nan=True, default=_plain)
                except TypeError as e:
                    raise TypeError(f"resFile: a list of JSON-serialisable dicts ({e})") from e
                res._results = _coordexp.DetectionResults.parse(text, "resFile")
        else:
            raise TypeError("resFile: a path, a list of dicts or an (N, 7) numpy array, got "
                            + type(resFile).__name__)
        return res


def _plain(o):
    """numpy scalars and arrays in results entries, as JSON numbers and lists."""
    if isinstance(o, (np.generic, np.ndarray)):
        return o.tolist()
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _as_list(x):
    """pycocotools' id arguments: one id or a list-like of ids, as a list."""
    return list(x) if isinstance(x, (list, tuple, np.ndarray, set, range)) else [x]


class Params:
    """pycocotools' Params for iouType 'bbox' (the same defaults)."""

    def __init__(self, iouType="bbox"):
        if iouType != "bbox":
            raise NotImplementedError(f"iouType {iouType!r}: coordexp evaluates boxes only ('bbox'); "
                                      "segm and keypoints are not supported")
        self.imgIds = []
        self.catIds = []
        self.iouThrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        self.recThrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
        self.maxDets = [1, 10, 100]
        self.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        self.areaRngLbl = ["all", "small", "medium", "large"]
        self.useCats = 1
        self.iouType = iouType


class COCOeval:
    """pycocotools' COCOeval for boxes. `threads` (not in pycocotools): worker threads, 0 = every core;
    the numbers are the same at any count."""

    def __init__(self, cocoGt=None, cocoDt=None, iouType="bbox", threads=0):
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.params = Params(iouType)
        self.threads = threads
        self.eval = {}
        self.stats = []
        self._result = None
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    def evaluate(self):
        tic = time.time()
        print("Running per image evaluation...")
        if self.cocoDt is None or self.cocoDt._results is None:
            raise ValueError("cocoDt: results from cocoGt.loadRes(...)")
        p = self.params
        print(f"Evaluate annotation type *{p.iouType}*")
        p.imgIds = list(np.unique(p.imgIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        spec = {
            "imgIds": [int(i) for i in p.imgIds],
            "catIds": [int(c) for c in (p.catIds if p.useCats else self.cocoGt.getCatIds())],
            "iouThrs": [float(t) for t in p.iouThrs],
            "recThrs": [float(r) for r in p.recThrs],
            "maxDets": [int(m) for m in p.maxDets],
            "areaRng": [[float(lo), float(hi)] for lo, hi in p.areaRng],
            "areaRngLbl": list(p.areaRngLbl),
            "useCats": bool(p.useCats),
        }
        self._result = _coordexp.evaluate_coco(self.cocoGt._gt, self.cocoDt._results, spec, int(self.threads))
        self._params_used = copy.deepcopy(p)
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def accumulate(self, p=None):
        print("Accumulating evaluation results...")
        tic = time.time()
        if self._result is None:
            print("Please run evaluate() first")
            return
        r = self._result
        T, R, K, A, M = r["precision"].shape
        self.eval = {
            "params": self._params_used if p is None else p,
            "counts": [T, R, K, A, M],
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "precision": r["precision"],
            "recall": r["recall"],
            "scores": r["scores"],
        }
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def summarize(self):
        if not self.eval:
            raise Exception("Please run accumulate() first")
        print(self._result["summary"], end="" if self._result["summary"].endswith("\n") else "\n")
        self.stats = np.array(self._result["stats"])

    def __str__(self):
        self.summarize()
        return ""
