#!/usr/bin/python3
"""Independent numpy-only reference for LVIS federated bbox evaluation, written from lvis-api's rules
(LVISResults.limit_dets_per_image, LVIS.get_ann_ids, LVISEval._prepare / evaluate_img / accumulate /
summarize) for the C++ parity tests in tests/eval. Needs only numpy; run it with /usr/bin/python3.

  lvis_eval_ref.py GT.json DT.json [MAX_DETS]   -> prints {"stats": [...13...], "names": [...]} as JSON
  lvis_eval_ref.py --batch DIR N [MAX_DETS]     -> evaluates DIR/case_<i>_gt.json + DIR/case_<i>_dt.json
                                                   for i < N and prints a JSON list, one report per case
"""
import json
import sys
from collections import defaultdict

import numpy as np

from cocoeval_ref import bbox_iou

IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
AREAS = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
AREA_LBLS = ['all', 'small', 'medium', 'large']
FREQS = ['r', 'c', 'f']


def cap_results(results, max_dets):
    """Top max_dets entries per image over all categories (stable for ties), grouped by image."""
    by_img = defaultdict(list)
    for r in results:
        by_img[r['image_id']].append(r)
    out = []
    for img, rs in by_img.items():
        if max_dets >= 0 and len(rs) > max_dets:
            rs = sorted(rs, key=lambda r: -r['score'])[:max_dets]
        out.extend(rs)
    for i, r in enumerate(out):
        r['area'] = r['bbox'][2] * r['bbox'][3]
        r['id'] = i + 1
    return out


def evaluate(gt, results, max_dets=300):
    imgs = {im['id']: im for im in gt['images']}
    cats = {c['id']: c for c in gt['categories']}
    img_ids = sorted(imgs)
    cat_ids = sorted(cats)
    catset = set(cat_ids)

    def gather(anns):
        per_img = defaultdict(list)
        by_id = {}
        for a in anns:
            per_img[a['image_id']].append(a)
            by_id[a['id']] = a
        ids = [a['id'] for i in img_ids for a in per_img[i]
               if a['category_id'] in catset and 0 < a['area'] < float('inf')]
        return [by_id[i] for i in ids]

    gt_anns = [dict(a) for a in gt['annotations']]
    for a in gt_anns:
        a.setdefault('area', a['bbox'][2] * a['bbox'][3])
    gts = gather(gt_anns)
    dts = gather(cap_results([dict(r) for r in results], max_dets))

    g_by = defaultdict(list)
    present = defaultdict(set)
    for g in gts:
        g_by[g['image_id'], g['category_id']].append(g)
        present[g['image_id']].add(g['category_id'])
    neg = {i: set(imgs[i].get('neg_category_ids', [])) for i in img_ids}
    nel = {i: set(imgs[i].get('not_exhaustive_category_ids', [])) for i in img_ids}
    d_by = defaultdict(list)
    for d in dts:
        i, c = d['image_id'], d['category_id']
        if c in neg[i] or c in present[i]:
            d_by[i, c].append(d)

    T, R, K, A = len(IOU_THRS), len(REC_THRS), len(cat_ids), len(AREAS)
    precision = -np.ones((T, R, K, A))
    recall = -np.ones((T, K, A))
    for k, c in enumerate(cat_ids):
        for a, (lo, hi) in enumerate(AREAS):
            scores, matched, ignored, n_gt, any_cell = [], [], [], 0, False
            for i in img_ids:
                g, d = g_by[i, c], d_by[i, c]
                if not g and not d:
                    continue
                any_cell = True
                # evaluate_img: g["ignore"] (0 when absent, _prepare) or outside the area range
                g_ig = np.array([int(bool(x.get('ignore', 0)) or x['area'] < lo or x['area'] > hi) for x in g],
                                dtype=int)
                g_order = np.argsort(g_ig, kind='mergesort')
                g = [g[j] for j in g_order]
                g_ig = g_ig[g_order]
                d = [d[j] for j in np.argsort([-x['score'] for x in d], kind='mergesort')]
                ious = bbox_iou([x['bbox'] for x in d], [x['bbox'] for x in g], [0] * len(g))
                dm = np.zeros((T, len(d)))
                di = np.zeros((T, len(d)), dtype=bool)
                for t, thr in enumerate(IOU_THRS):
                    taken = np.zeros(len(g), dtype=bool)
                    for j in range(len(d)):
                        best, m = min(thr, 1 - 1e-10), -1
                        for gi in range(len(g)):
                            if taken[gi]:
                                continue
                            if m > -1 and g_ig[m] == 0 and g_ig[gi] == 1:
                                break
                            if ious[j, gi] < best:
                                continue
                            best, m = ious[j, gi], gi
                        if m == -1:
                            continue
                        taken[m] = True
                        di[t, j] = bool(g_ig[m])
                        dm[t, j] = g[m]['id']
                mask = np.array([x['area'] < lo or x['area'] > hi or c in nel[i] for x in d], dtype=bool)
                di = di | ((dm == 0) & mask[None, :])
                scores.extend(x['score'] for x in d)
                matched.append(dm)
                ignored.append(di)
                n_gt += int(np.count_nonzero(g_ig == 0))
            if not any_cell or n_gt == 0:
                continue
            order = np.argsort(-np.array(scores, dtype=float), kind='mergesort')
            dm = np.concatenate(matched, axis=1)[:, order]
            di = np.concatenate(ignored, axis=1)[:, order]
            tps = np.cumsum((dm != 0) & ~di, axis=1).astype(float)
            fps = np.cumsum((dm == 0) & ~di, axis=1).astype(float)
            for t in range(T):
                tp, fp = tps[t], fps[t]
                rc = tp / n_gt
                recall[t, k, a] = rc[-1] if len(tp) else 0
                pr = list(tp / (fp + tp + np.spacing(1)))
                for j in range(len(pr) - 1, 0, -1):
                    pr[j - 1] = max(pr[j - 1], pr[j])
                row = np.zeros(R)
                for r, at in enumerate(np.searchsorted(rc, REC_THRS, side='left')):
                    if at >= len(pr):
                        break
                    row[r] = pr[at]
                precision[t, :, k, a] = row

    groups = [[k for k, c in enumerate(cat_ids) if cats[c]['frequency'] == f] for f in FREQS]

    def mean(s):
        s = s[s > -1]
        return float(np.mean(s)) if len(s) else -1.0

    def ap(iou=None, area='all', group=None):
        s = precision
        if iou is not None:
            s = s[np.where(IOU_THRS == iou)[0]]
        a = AREA_LBLS.index(area)
        s = s[:, :, groups[group], a] if group is not None else s[:, :, :, a]
        return mean(s)

    def ar(area='all'):
        return mean(recall[:, :, AREA_LBLS.index(area)])

    stats = [ap(), ap(.5), ap(.75), ap(area='small'), ap(area='medium'), ap(area='large'),
             ap(group=0), ap(group=1), ap(group=2), ar(), ar('small'), ar('medium'), ar('large')]
    cap = str(max_dets)
    names = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf',
             'AR@' + cap, 'ARs@' + cap, 'ARm@' + cap, 'ARl@' + cap]
    return {'stats': stats, 'names': names}


def evaluate_files(gt_path, dt_path, max_dets):
    with open(gt_path) as f:
        gt = json.load(f)
    with open(dt_path) as f:
        dt = json.load(f)
    return evaluate(gt, dt, max_dets)


def main(argv):
    if len(argv) in (4, 5) and argv[1] == '--batch':
        md = int(argv[4]) if len(argv) == 5 else 300
        out = [evaluate_files(f'{argv[2]}/case_{i}_gt.json', f'{argv[2]}/case_{i}_dt.json', md)
               for i in range(int(argv[3]))]
    elif len(argv) in (3, 4):
        out = evaluate_files(argv[1], argv[2], int(argv[3]) if len(argv) == 4 else 300)
    else:
        sys.stderr.write(__doc__)
        return 2
    json.dump(out, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
