"""coordexp.cocotools against the numpy re-implementation of pycocotools (tests/eval/ref/cocoeval_ref.py)
and the command line (`coordexp eval --json`): the same 12 stats and recall table on random cases, through
every way pycocotools takes results; params subsets and useCats; pycocotools-style misuse raising errors."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import CLI
from coordexp.cocotools import COCO, COCOeval
import cocoeval_ref


def random_case(seed, images=30, categories=6):
    rng = np.random.default_rng(seed)
    gt = {"images": [{"id": 100 + i, "width": 640, "height": 480} for i in range(images)],
          "categories": [{"id": 1 + 2 * k, "name": f"c{k}"} for k in range(categories)], "annotations": []}
    dts = []
    for im in gt["images"]:
        for _ in range(int(rng.integers(0, 8))):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(2, 140, 2)
            cat = 1 + 2 * int(rng.integers(0, categories))
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": im["id"], "category_id": cat,
                                      "bbox": [x, y, w, h], "area": w * h * rng.uniform(0.5, 1.0),
                                      "iscrowd": int(rng.random() < 0.05)})
            for _ in range(int(rng.integers(0, 3))):  # detections near this box, some with other labels
                j = rng.normal(0, 6, 4)
                dts.append({"image_id": im["id"], "category_id": cat if rng.random() < 0.8 else 1,
                            "bbox": [x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])],
                            "score": float(rng.random())})
        for _ in range(int(rng.integers(0, 3))):  # false positives
            dts.append({"image_id": im["id"], "category_id": 1 + 2 * int(rng.integers(0, categories)),
                        "bbox": list(rng.uniform(0, 300, 2)) + list(rng.uniform(5, 80, 2)),
                        "score": float(rng.random())})
    return gt, dts


def reference(gt, dts, use_cats=True):
    ref = cocoeval_ref.Reference(gt, dts, use_cats)
    ref.run()
    return ref


def run_eval(gt_obj, dt_obj, **params):
    E = COCOeval(gt_obj, dt_obj, "bbox")
    for k, v in params.items():
        setattr(E.params, k, v)
    E.evaluate()
    E.accumulate()
    E.summarize()
    return E


@pytest.mark.parametrize("seed", range(6))
def test_stats_and_tables_equal_the_reference(seed, tmp_path):
    gt, dts = random_case(seed)
    ref = reference(gt, dts)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dts))
    coco = COCO(str(tmp_path / "gt.json"))
    for results in (str(tmp_path / "dt.json"), dts):  # a path and a list of dicts
        E = run_eval(coco, coco.loadRes(results))
        np.testing.assert_allclose(E.stats, ref.stats(), rtol=0, atol=1e-12)
        assert E.eval["precision"].shape == ref.precision.shape
        np.testing.assert_allclose(E.eval["precision"], ref.precision, rtol=0, atol=1e-12)
        np.testing.assert_allclose(E.eval["recall"], ref.recall, rtol=0, atol=1e-12)
        assert E.eval["scores"].shape == ref.precision.shape
    # numpy scalars in the dicts (np.int64 ids, np.float32 scores) and tuples for boxes read alike
    mixed = [dict(d, image_id=np.int64(d["image_id"]), bbox=tuple(d["bbox"])) for d in dts]
    mixed[0]["score"] = np.float32(mixed[0]["score"])
    E = run_eval(coco, coco.loadRes(mixed))
    ref_mixed = reference(gt, [dict(dts[0], score=float(np.float32(dts[0]["score"])))] + dts[1:])
    np.testing.assert_allclose(E.stats, ref_mixed.stats(), rtol=0, atol=1e-12)
    # a dict ground truth and results as pycocotools' (N, 7) rows give the same numbers
    rows = np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dts])
    E = run_eval(COCO(gt), COCO(gt).loadRes(rows))
    np.testing.assert_allclose(E.stats, ref.stats(), rtol=0, atol=1e-12)


def test_class_agnostic_equals_the_reference():
    gt, dts = random_case(11)
    ref = reference(gt, dts, use_cats=False)
    coco = COCO(gt)
    E = run_eval(coco, coco.loadRes(dts), useCats=0)
    np.testing.assert_allclose(E.stats, ref.stats(), rtol=0, atol=1e-12)


def test_params_subsets_equal_the_reference_on_the_subset():
    gt, dts = random_case(5)
    keep_imgs = [im["id"] for im in gt["images"][::2]]
    keep_cats = [1, 5, 9]
    sub = {"images": [im for im in gt["images"] if im["id"] in keep_imgs],
           "categories": [c for c in gt["categories"] if c["id"] in keep_cats],
           "annotations": [a for a in gt["annotations"]
                           if a["image_id"] in keep_imgs and a["category_id"] in keep_cats]}
    sub_dts = [d for d in dts if d["image_id"] in keep_imgs and d["category_id"] in keep_cats]
    ref = reference(sub, sub_dts)
    coco = COCO(gt)
    E = run_eval(coco, coco.loadRes(dts), imgIds=keep_imgs, catIds=keep_cats)
    np.testing.assert_allclose(E.stats, ref.stats(), rtol=0, atol=1e-12)
    assert E.eval["precision"].shape[2] == 3


def test_same_numbers_as_the_command_line(tmp_path):
    gt, dts = random_case(21)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dts))
    if not os.path.exists(CLI):
        pytest.skip("the coordexp program is not built")
    out = subprocess.run([CLI, "eval", "--gt", str(tmp_path / "gt.json"), "--dt", str(tmp_path / "dt.json"),
                          "--json"], check=True, capture_output=True, text=True).stdout
    cli_stats = json.loads(out)["stats"]
    coco = COCO(str(tmp_path / "gt.json"))
    E = run_eval(coco, coco.loadRes(str(tmp_path / "dt.json")))
    assert E.stats.tolist() == cli_stats


def test_summarize_prints_pycocotools_lines(capsys):
    gt, dts = random_case(2)
    coco = COCO(gt)
    E = run_eval(coco, coco.loadRes(dts))
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith(" Average")]
    assert len(lines) == 12
    assert lines[0].startswith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ")
    assert float(lines[0].split("=")[-1]) == pytest.approx(E.stats[0], abs=5e-4)


def test_lookups_as_pycocotools():
    gt, _ = random_case(3)
    coco = COCO(gt)
    assert coco.getImgIds() == [im["id"] for im in gt["images"]]
    assert coco.getCatIds() == [c["id"] for c in gt["categories"]]
    assert coco.getCatIds(catNms=["c1"]) == [3]
    img = gt["annotations"][0]["image_id"]
    assert sorted(coco.getAnnIds(imgIds=[img])) == sorted(a["id"] for a in gt["annotations"] if a["image_id"] == img)
    assert coco.loadImgs(img)[0]["id"] == img


def test_misuse_raises_the_command_lines_errors(tmp_path):
    gt, dts = random_case(4)
    coco = COCO(gt)
    bad = [dict(dts[0], image_id=999999)]
    with pytest.raises(ValueError, match="image_id"):
        run_eval(coco, coco.loadRes(bad))
    with pytest.raises(ValueError, match=r"bbox"):
        coco.loadRes([dict(dts[0], bbox=[1, 2, 3])])
    with pytest.raises(ValueError, match=r"score"):
        coco.loadRes([dict(dts[0], score=float("nan"))])
    with pytest.raises(ValueError, match=r"entry 1.*category_id|category_id.*entry 1|\[1\].category_id"):
        coco.loadRes([dts[0], {k: v for k, v in dts[1].items() if k != "category_id"}])
    with pytest.raises(ValueError, match=r"width and height"):
        coco.loadRes([dict(dts[0], bbox=[1, 2, -3, 4])])
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        coco.loadRes(np.zeros((3, 6)))
    with pytest.raises(ValueError, match="finite"):
        coco.loadRes(np.full((1, 7), np.nan))
    with pytest.raises(NotImplementedError, match="segm"):
        COCOeval(coco, coco.loadRes(dts), "segm")
    (tmp_path / "broken.json").write_text('{"images": [')
    with pytest.raises(ValueError, match="broken.json"):
        COCO(str(tmp_path / "broken.json"))
    with pytest.raises(TypeError, match="annotation_file"):
        COCO(42)
