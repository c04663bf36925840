#!/usr/bin/python3
"""Independent numpy-only reference for COCO bbox evaluation, written from pycocotools' algorithm
(COCO.loadRes, COCOeval._prepare / evaluateImg / accumulate / summarize, maskApi.c bbIou) for the
C++ parity tests in tests/eval. Needs only numpy; run it with /usr/bin/python3.

  cocoeval_ref.py GT.json DT.json          -> prints {"stats": [...12...], ...} as JSON
  cocoeval_ref.py --batch DIR N            -> evaluates DIR/case_<i>_gt.json + DIR/case_<i>_dt.json for
                                               i < N and prints a JSON list, one report per case
  cocoeval_ref.py --time GT.json DT.json   -> like the first form, plus load/evaluate/accumulate seconds
  --agnostic before any form                -> useCats = 0: every category pooled per image, the GT and
                                               detections of an image concatenated over the sorted category
                                               ids (evaluateImg's lists), one category -1
"""
import json
import sys
import time
from collections import defaultdict

import numpy as np


class UnknownImage(Exception):
    pass


def params():
    iou_thrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    rec_thrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
    max_dets = [1, 10, 100]
    area_rngs = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
    area_lbls = ['all', 'small', 'medium', 'large']
    return iou_thrs, rec_thrs, max_dets, area_rngs, area_lbls


def bbox_iou(dt_boxes, gt_boxes, crowd):
    """D x G IoU with maskApi.c's arithmetic (w + x, fmin/fmax, crowd: intersection / detection area)."""
    d = np.asarray(dt_boxes, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    da = (d[:, 2] * d[:, 3])[:, None]
    ga = (g[:, 2] * g[:, 3])[None, :]
    w = np.minimum(d[:, 2:3] + d[:, 0:1], (g[:, 2] + g[:, 0])[None, :]) - np.maximum(d[:, 0:1], g[None, :, 0])
    h = np.minimum(d[:, 3:4] + d[:, 1:2], (g[:, 3] + g[:, 1])[None, :]) - np.maximum(d[:, 1:2], g[None, :, 1])
    inter = w * h
    crowd = np.asarray(crowd, dtype=bool)[None, :]
    union = np.where(crowd, da, da + ga - inter)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / union
    return np.where((w <= 0) | (h <= 0), 0.0, iou)


class Reference:
    def __init__(self, gt, dts, use_cats=True):
        self.iou_thrs, self.rec_thrs, self.max_dets, self.area_rngs, self.area_lbls = params()
        self.img_ids = sorted(set(im['id'] for im in gt['images']))
        self.cat_ids = sorted(set(c['id'] for c in gt['categories']))
        cats = set(self.cat_ids)
        imgs = set(self.img_ids)
        anns = gt.get('annotations', [])
        ann_by_id = {}
        per_image = defaultdict(list)
        for a in anns:
            ann_by_id[a['id']] = a
            per_image[a['image_id']].append(a)
        self.gts = defaultdict(list)
        for i in self.img_ids:
            for a in per_image.get(i, []):
                if a['category_id'] in cats:
                    r = ann_by_id[a['id']]  # a repeated id resolves to the last annotation with it
                    self.gts[r['image_id'], r['category_id']].append(r)
        dt_per_image = defaultdict(list)
        for n, d in enumerate(dts):
            if d['image_id'] not in imgs:
                raise UnknownImage(n)
            b = d['bbox']
            dt_per_image[d['image_id']].append({'id': n + 1, 'bbox': b, 'area': b[2] * b[3],
                                                'score': d['score'], 'category_id': d['category_id']})
        self.dts = defaultdict(list)
        for i in self.img_ids:
            for d in dt_per_image.get(i, []):
                if d['category_id'] in cats:
                    self.dts[i, d['category_id']].append(d)
        if not use_cats:
            for table in (self.gts, self.dts):
                pooled = {i: [x for c in self.cat_ids for x in table.get((i, c), [])] for i in self.img_ids}
                table.clear()
                table.update({(i, -1): xs for i, xs in pooled.items() if xs})
            self.cat_ids = [-1]

    def evaluate_pair(self, img, cat):
        """Returns one result per area range, or None when the pair has no GT and no detection."""
        gt = self.gts.get((img, cat), [])
        dt = self.dts.get((img, cat), [])
        if not gt and not dt:
            return None
        top = self.max_dets[-1]
        order = np.argsort([-d['score'] for d in dt], kind='mergesort')[:top]
        dt = [dt[i] for i in order]
        crowd = [bool(g.get('iscrowd', 0)) for g in gt]
        ious = bbox_iou([d['bbox'] for d in dt], [g['bbox'] for g in gt], crowd) if (gt and dt) else None
        T, D, G = len(self.iou_thrs), len(dt), len(gt)
        out = []
        for lo, hi in self.area_rngs:
            ign = np.array([1 if (crowd[j] or gt[j]['area'] < lo or gt[j]['area'] > hi) else 0
                            for j in range(G)], dtype=np.int64)
            perm = np.argsort(ign, kind='mergesort')
            matched_id = np.zeros((T, D))  # GT id of the match, 0 = none
            dt_ign = np.zeros((T, D), dtype=bool)
            if ious is not None:
                for t, thr in enumerate(self.iou_thrs):
                    taken = np.zeros(G, dtype=bool)
                    for di in range(D):
                        best, m = min(thr, 1 - 1e-10), -1
                        for gj in perm:
                            if taken[gj] and not crowd[gj]:
                                continue
                            if m > -1 and ign[m] == 0 and ign[gj] == 1:
                                break
                            if ious[di, gj] < best:
                                continue
                            best, m = ious[di, gj], gj
                        if m >= 0:
                            taken[m] = True
                            dt_ign[t, di] = ign[m] == 1
                            matched_id[t, di] = gt[m]['id']
            out_rng = np.array([d['area'] < lo or d['area'] > hi for d in dt], dtype=bool)[None, :]
            dt_ign = dt_ign | ((matched_id == 0) & out_rng)
            out.append({'scores': np.array([d['score'] for d in dt], dtype=np.float64),
                        'matched': matched_id != 0, 'ignored': dt_ign,
                        'npig': int(np.sum(ign == 0))})
        return out

    def run(self):
        T, R = len(self.iou_thrs), len(self.rec_thrs)
        K, A, M = len(self.cat_ids), len(self.area_rngs), len(self.max_dets)
        self.precision = -np.ones((T, R, K, A, M))
        self.recall = -np.ones((T, K, A, M))
        for k, cat in enumerate(self.cat_ids):
            per_img = [self.evaluate_pair(i, cat) for i in self.img_ids]
            per_img = [e for e in per_img if e is not None]
            if not per_img:
                continue
            for a in range(A):
                npig = sum(e[a]['npig'] for e in per_img)
                if npig == 0:
                    continue
                for m, cap in enumerate(self.max_dets):
                    scores = np.concatenate([e[a]['scores'][:cap] for e in per_img])
                    order = np.argsort(-scores, kind='mergesort')
                    matched = np.concatenate([e[a]['matched'][:, :cap] for e in per_img], axis=1)[:, order]
                    ignored = np.concatenate([e[a]['ignored'][:, :cap] for e in per_img], axis=1)[:, order]
                    tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
                    fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
                    nd = tp.shape[1]
                    for t in range(T):
                        rc = tp[t] / npig
                        pr = tp[t] / (fp[t] + tp[t] + np.spacing(1))
                        self.recall[t, k, a, m] = rc[-1] if nd else 0
                        env = np.maximum.accumulate(pr[::-1])[::-1] if nd else pr
                        idx = np.searchsorted(rc, self.rec_thrs, side='left')
                        q = np.zeros(R)
                        valid = np.cumprod(idx < nd).astype(bool)  # stops at the first point past the end
                        q[valid] = env[idx[valid]]
                        self.precision[t, :, k, a, m] = q

    def mean_of(self, ap, iou=None, area='all', cap=100, k=None):
        a = self.area_lbls.index(area)
        if cap not in self.max_dets:
            return -1.0
        m = self.max_dets.index(cap)
        s = self.precision if ap else self.recall
        if iou is not None:
            s = s[np.where(iou == self.iou_thrs)[0]]
        s = s[:, :, :, a, m] if ap else s[:, :, a, m]
        if k is not None:
            s = s[..., k]
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    def stats(self):
        md = self.max_dets
        return [self.mean_of(1), self.mean_of(1, .5, cap=md[2]), self.mean_of(1, .75, cap=md[2]),
                self.mean_of(1, area='small', cap=md[2]), self.mean_of(1, area='medium', cap=md[2]),
                self.mean_of(1, area='large', cap=md[2]), self.mean_of(0, cap=md[0]), self.mean_of(0, cap=md[1]),
                self.mean_of(0, cap=md[2]), self.mean_of(0, area='small', cap=md[2]),
                self.mean_of(0, area='medium', cap=md[2]), self.mean_of(0, area='large', cap=md[2])]

    def report(self):
        K = len(self.cat_ids)
        per_cat = [self.mean_of(1, cap=self.max_dets[-1], k=k) for k in range(K)]
        prec_mean = []  # mean over (T, R) of precision per (k, a, m), as a compact fingerprint
        for k in range(K):
            for a in range(len(self.area_rngs)):
                for m in range(len(self.max_dets)):
                    prec_mean.append(float(np.mean(self.precision[:, :, k, a, m])))
        return {'stats': self.stats(), 'per_category_ap': per_cat, 'recall': self.recall.ravel().tolist(),
                'precision_mean_kam': prec_mean}


def evaluate_files(gt_path, dt_path, use_cats=True):
    with open(gt_path) as f:
        gt = json.load(f)
    with open(dt_path) as f:
        dts = json.load(f)
    try:
        ref = Reference(gt, dts, use_cats)
    except UnknownImage as e:
        return {'error': 'unknown_image', 'index': e.args[0]}
    ref.run()
    return ref.report()


def main(argv):
    use_cats = '--agnostic' not in argv
    argv = [a for a in argv if a != '--agnostic']
    if len(argv) == 4 and argv[1] == '--batch':
        out = [evaluate_files(f'{argv[2]}/case_{i}_gt.json', f'{argv[2]}/case_{i}_dt.json', use_cats)
               for i in range(int(argv[3]))]
        json.dump(out, sys.stdout)
    elif len(argv) == 4 and argv[1] == '--time':
        t0 = time.perf_counter()
        with open(argv[2]) as f:
            gt = json.load(f)
        with open(argv[3]) as f:
            dts = json.load(f)
        ref = Reference(gt, dts, use_cats)
        t1 = time.perf_counter()
        ref.run()
        t2 = time.perf_counter()
        rep = ref.report()
        rep['seconds'] = {'load': t1 - t0, 'evaluate_accumulate': t2 - t1, 'total': time.perf_counter() - t0}
        json.dump(rep, sys.stdout)
    elif len(argv) == 3:
        json.dump(evaluate_files(argv[1], argv[2], use_cats), sys.stdout)
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
