"""coordexp.lvis against the command line (`coordexp eval --lvis`) and the numpy re-implementation of
lvis-api (tests/eval/ref/lvis_eval_ref.py): the same 13 numbers and summary lines on random federated cases
(negative and not-exhaustive lists, all frequency groups, ignore regions, zero areas, images over the cap),
through a path, a list of dicts and an (N, 7) array; params subsets against the same case cut down by hand;
lvis-api's table shapes; misuse raising the command line's messages."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import CLI
from coordexp.lvis import LVIS, LVISEval, LVISResults
import lvis_eval_ref

NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf",
         "AR@300", "ARs@300", "ARm@300", "ARl@300"]


def random_case(seed, images=12, categories=8, crowded_image=True):
    rng = np.random.default_rng(seed)
    cats = [{"id": 3 + 2 * k, "name": f"c{k}", "frequency": "rcf"[k % 3]} for k in range(categories)]
    gt = {"images": [], "annotations": [], "categories": cats}
    dts = []
    for i in range(images):
        img = {"id": 50 + 7 * i, "neg_category_ids": [], "not_exhaustive_category_ids": []}
        for c in cats:
            n = 0 if rng.random() < 0.5 else int(rng.integers(1, 4))
            if n == 0 and rng.random() < 0.5:
                img["neg_category_ids"].append(c["id"])
            if rng.random() < 0.3:
                img["not_exhaustive_category_ids"].append(c["id"])
            for _ in range(n):
                x, y = rng.uniform(0, 400, 2)
                w, h = np.exp(rng.uniform(0, np.log(200), 2))
                area = 0.0 if rng.random() < 0.04 else float(w * h * rng.uniform(0.6, 1.0))
                ann = {"id": len(gt["annotations"]) + 1, "image_id": img["id"], "category_id": c["id"],
                       "bbox": [x, y, w, h], "area": area}
                if rng.random() < 0.08:
                    ann["ignore"] = 1
                gt["annotations"].append(ann)
                for _ in range(int(rng.integers(0, 3))):
                    j = rng.normal(0, 0.1, 4) * [w, h, w, h]
                    dts.append({"image_id": img["id"], "category_id": c["id"] if rng.random() < 0.8
                                else cats[int(rng.integers(0, categories))]["id"],
                                "bbox": [x + j[0], y + j[1], max(0.5, w + j[2]), max(0.5, h + j[3])],
                                "score": float(rng.random())})
        for _ in range(int(rng.integers(0, 6))):  # false positives, some on categories of no list
            dts.append({"image_id": img["id"], "category_id": cats[int(rng.integers(0, categories))]["id"],
                        "bbox": list(rng.uniform(0, 300, 2)) + list(rng.uniform(2, 90, 2)),
                        "score": float(rng.random())})
        gt["images"].append(img)
    if crowded_image:  # one image over the per-image cap of 300, across categories
        img = gt["images"][0]["id"]
        for _ in range(340):
            dts.append({"image_id": img, "category_id": cats[int(rng.integers(0, categories))]["id"],
                        "bbox": list(rng.uniform(0, 300, 2)) + list(rng.uniform(2, 90, 2)),
                        "score": float(rng.random())})
    return gt, dts


def cli_eval(tmp_path, gt, dts, table=False):
    if not os.path.exists(CLI):
        pytest.skip("the coordexp program is not built")
    (tmp_path / "cli_gt.json").write_text(json.dumps(gt))
    (tmp_path / "cli_dt.json").write_text(json.dumps(dts))
    args = [CLI, "eval", "--lvis", "--gt", str(tmp_path / "cli_gt.json"), "--dt", str(tmp_path / "cli_dt.json")]
    out = subprocess.run(args + ([] if table else ["--json"]), capture_output=True, text=True)
    return out


def run_eval(gt, dt, **params):
    E = LVISEval(gt, dt, "bbox")
    for k, v in params.items():
        setattr(E.params, k, v)
    E.run()
    return E


@pytest.mark.parametrize("seed", range(4))
def test_results_equal_the_command_line_and_the_reference(seed, tmp_path):
    gt, dts = random_case(seed)
    cli = cli_eval(tmp_path, gt, dts)
    assert cli.returncode == 0, cli.stderr
    cli_stats = json.loads(cli.stdout)["stats"]
    ref = lvis_eval_ref.evaluate(json.loads(json.dumps(gt)), json.loads(json.dumps(dts)))
    assert ref["names"] == NAMES
    np.testing.assert_allclose(cli_stats, ref["stats"], rtol=0, atol=1e-12)

    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dts))
    rows = np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dts])
    lvis_path = LVIS(str(tmp_path / "gt.json"))
    for lvis_gt, results in ((lvis_path, str(tmp_path / "dt.json")), (LVIS(gt), dts), (lvis_path, rows)):
        E = run_eval(lvis_gt, LVISResults(lvis_gt, results))
        res = E.get_results()
        assert list(res) == NAMES
        assert list(res.values()) == cli_stats  # bit for bit
        T, R, K, A = E.eval["precision"].shape
        assert (T, R, K, A) == (10, 101, len(gt["categories"]), 4)
        assert E.eval["recall"].shape == (T, K, A)
        assert E.eval["counts"] == [T, R, K, A]
        # AP and AR are numpy's means of the tables' entries > -1, as lvis-api's _summarize
        p, r = E.eval["precision"][..., 0], E.eval["recall"][..., 0]
        assert res["AP"] == pytest.approx(float(np.mean(p[p > -1])), abs=1e-15)
        assert res["AR@300"] == pytest.approx(float(np.mean(r[r > -1])), abs=1e-15)
        rare = E.eval["precision"][:, :, E.freq_groups[0], 0]
        assert res["APr"] == pytest.approx(float(np.mean(rare[rare > -1])), abs=1e-15)
    # lvis-api's other ways in: a path for the ground truth, a path or list for the results
    E = LVISEval(str(tmp_path / "gt.json"), dts)
    E.run()
    assert list(E.get_results().values()) == cli_stats


def test_print_results_matches_the_command_line_table(tmp_path, capsys):
    gt, dts = random_case(7)
    cli = cli_eval(tmp_path, gt, dts, table=True)
    assert cli.returncode == 0, cli.stderr
    cli_lines = [l for l in cli.stdout.splitlines() if l.startswith(" Average")]
    E = run_eval(LVIS(gt), dts)
    capsys.readouterr()
    E.print_results()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 13
    assert lines == cli_lines
    assert lines[6] == (" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=300 catIds=  r] = "
                        f"{E.results['APr']:0.3f}")


def test_max_dets_caps_results_per_image_and_names_the_recall_keys():
    gt, dts = random_case(3)
    lvis_gt = LVIS(gt)
    for cap in (300, 5, -1):
        E = LVISEval(lvis_gt, LVISResults(lvis_gt, dts, max_dets=cap))
        E.run()
        ref = lvis_eval_ref.evaluate(json.loads(json.dumps(gt)), json.loads(json.dumps(dts)), cap)
        np.testing.assert_allclose(list(E.results.values()), ref["stats"], rtol=0, atol=1e-12)
    # params.max_dets only names the AR keys (lvis-api): the numbers stay those of LVISResults' cap
    E5 = LVISEval(lvis_gt, LVISResults(lvis_gt, dts, max_dets=5))
    E5.run()
    E5b = LVISEval(lvis_gt, LVISResults(lvis_gt, dts, max_dets=5))
    E5b.params.max_dets = 5
    E5b.run()
    assert list(E5b.results) == NAMES[:9] + ["AR@5", "ARs@5", "ARm@5", "ARl@5"]
    assert list(E5b.results.values()) == list(E5.results.values())
    assert E5.results["AP"] != E.results["AP"]


def cut(gt, dts, img_ids=None, cat_ids=None):
    """The case with only img_ids' images and cat_ids' categories: what params subsets must equal."""
    gt = json.loads(json.dumps(gt))
    if img_ids is not None:
        gt["images"] = [im for im in gt["images"] if im["id"] in img_ids]
        dts = [d for d in dts if d["image_id"] in img_ids]
    if cat_ids is not None:
        gt["categories"] = [c for c in gt["categories"] if c["id"] in cat_ids]
    return gt, json.loads(json.dumps(dts))


def test_params_subsets_equal_the_case_cut_down(tmp_path):
    gt, dts = random_case(11)
    lvis_gt = LVIS(gt)
    img_ids = [im["id"] for im in gt["images"][::2]]
    cat_ids = [9, 3, 13, 5]  # not sorted: the K axis follows params.cat_ids, as lvis-api's
    E = run_eval(lvis_gt, LVISResults(lvis_gt, dts), img_ids=img_ids, cat_ids=cat_ids)
    small_gt, small_dts = cut(gt, dts, set(img_ids), set(cat_ids))
    ref = lvis_eval_ref.evaluate(small_gt, small_dts)
    np.testing.assert_allclose(list(E.results.values()), ref["stats"], rtol=0, atol=1e-12)
    cli = cli_eval(tmp_path, small_gt, small_dts)
    assert list(E.results.values()) == json.loads(cli.stdout)["stats"]
    sorted_E = run_eval(lvis_gt, LVISResults(lvis_gt, dts), img_ids=img_ids, cat_ids=sorted(cat_ids))
    order = [sorted(cat_ids).index(c) for c in cat_ids]
    np.testing.assert_array_equal(E.eval["precision"], sorted_E.eval["precision"][:, :, order])
    np.testing.assert_array_equal(E.eval["recall"], sorted_E.eval["recall"][:, order])
    assert E.params.img_ids == sorted(img_ids)
    # other thresholds, recall points and area ranges: AP50 and AR from the tables they give
    E = run_eval(lvis_gt, dts, iou_thrs=np.array([0.5, 0.7]), rec_thrs=np.linspace(0, 1, 11),
                 area_rng=[[0, 1e10], [0, 50 ** 2]], area_rng_lbl=["all", "small"])
    assert E.eval["precision"].shape == (2, 11, 8, 2)
    p = E.eval["precision"]
    assert E.results["AP50"] == pytest.approx(float(np.mean(p[0, :, :, 0][p[0, :, :, 0] > -1])), abs=1e-15)
    assert E.results["AP75"] == -1 and E.results["APm"] == -1 and E.results["ARl@300"] == -1
    assert E.results["APs"] != -1


def test_edge_cases_no_results_empty_params():
    gt, dts = random_case(5, crowded_image=False)
    lvis_gt = LVIS(gt)
    E = run_eval(lvis_gt, [])
    ref = lvis_eval_ref.evaluate(json.loads(json.dumps(gt)), [])
    np.testing.assert_allclose(list(E.results.values()), ref["stats"], rtol=0, atol=0)
    assert E.results["AP"] == 0.0
    E = run_eval(lvis_gt, dts, cat_ids=[])  # lvis-api: K = 0, every number -1
    assert E.eval["precision"].shape == (10, 101, 0, 4)
    assert set(E.results.values()) == {-1.0}
    E = run_eval(lvis_gt, dts, img_ids=[])
    assert set(E.results.values()) == {-1.0}


def test_misuse_raises_the_command_line_messages(tmp_path):
    gt, dts = random_case(2, crowded_image=False)
    # results on an image the ground truth does not hold: LVISResults refuses them, as lvis-api asserts;
    # a bbox of 3 numbers and a NaN score: the JSON reader's messages. Same files, same message.
    for entry, field in ((dict(dts[3], image_id=999999), "image_id"), (dict(dts[3], bbox=[1.0, 2.0, 3.0]), "bbox"),
                         (dict(dts[3], score=float("nan")), "score")):
        bad = dts[:3] + [entry]
        cli = cli_eval(tmp_path, gt, bad)
        assert cli.returncode == 2
        lvis_gt = LVIS(str(tmp_path / "cli_gt.json"))
        with pytest.raises(ValueError) as e:
            LVISResults(lvis_gt, str(tmp_path / "cli_dt.json"))
        assert cli.stderr == f"coordexp: error: {e.value}\n"
        assert f"cli_dt.json: [3].{field}" in str(e.value)
        with pytest.raises(ValueError, match=rf"^results: \[3\]\.{field}[ :]"):
            LVISResults(lvis_gt, bad)
    with pytest.raises(ValueError, match=r"results: an \(N, 7\) array"):
        LVISResults(LVIS(gt), np.zeros((2, 6)))


def test_params_the_evaluator_cannot_honour_raise():
    gt, dts = random_case(1, crowded_image=False)
    lvis_gt = LVIS(gt)
    for iou_type in ("segm", "boundary"):
        with pytest.raises(ValueError, match=rf"iou_type '{iou_type}': coordexp evaluates boxes only"):
            LVISEval(lvis_gt, dts, iou_type)
    for params, message in (
            ({"cat_ids": [3, 1000]},
             r"params\.cat_ids: ids the ground truth holds, found 1 it does not: \[1000\]"),
            ({"img_ids": [50, 51]}, r"params\.img_ids: ids the ground truth holds, found 1 it does not: \[51\]"),
            ({"cat_ids": [3, 5, 3]}, r"params\.cat_ids: each id once .* \[3\] repeated"),
            ({"use_cats": 0}, r"params\.use_cats = 0"),
            ({"area_rng_lbl": ["all", "small", "small", "large"]}, r"params\.area_rng_lbl: one distinct label"),
            ({"area_rng_lbl": ["all"]}, r"params\.area_rng_lbl: one distinct label per area range"),
            ({"iou_type": "segm"}, r"iou_type 'segm'")):
        E = LVISEval(lvis_gt, dts)
        for k, v in params.items():
            setattr(E.params, k, v)
        with pytest.raises(ValueError, match=message):
            E.evaluate()
    with pytest.raises(RuntimeError, match=r"Please run accumulate\(\) first"):
        LVISEval(lvis_gt, dts).summarize()


def test_ground_truth_without_frequency_names_the_category():
    gt, dts = random_case(1, crowded_image=False)
    del gt["categories"][2]["frequency"]
    with pytest.raises(ValueError, match=r"<dict>: categories\[2\]\.frequency: expected"):
        LVISEval(LVIS(gt), dts).run()


def test_lookups_follow_lvis_api():
    gt, _ = random_case(4, crowded_image=False)
    lvis_gt = LVIS(gt)
    assert lvis_gt.get_img_ids() == [im["id"] for im in gt["images"]]
    assert lvis_gt.get_cat_ids() == [c["id"] for c in gt["categories"]]
    img = gt["images"][1]["id"]
    anns = [a for a in gt["annotations"] if a["image_id"] == img]
    assert lvis_gt.get_ann_ids(img_ids=[img]) == [a["id"] for a in anns]
    assert lvis_gt.get_ann_ids(img_ids=[img], cat_ids=[3]) == [
        a["id"] for a in anns if a["category_id"] == 3 and 0 < a["area"] < float("inf")]
    assert lvis_gt.load_cats([5])[0]["frequency"] == "c"
    assert lvis_gt.load_imgs([img])[0] is lvis_gt.imgs[img]
