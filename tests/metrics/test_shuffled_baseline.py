"""The benchmark's shuffled-AUC baseline (the model's average density over the other scored images):
leave-one-out equal to the explicit mean of the others, equal to pysaliency's ``ShuffledBaselineModel``
(reference venv), and used by ``evaluate(probabilistic=True, sauc_baseline="model")``."""

from __future__ import annotations

import json
import subprocess
import textwrap

import numpy as np
import pytest

from saliency.errors import ConfigError, SchemaError
from saliency.metrics.evaluation import evaluate
from saliency.metrics.probabilistic import logsumexp, metric_maps
from saliency.metrics.shuffled_baseline import OtherImagesAverage, resize_log_density

H, W = 30, 40


def _lds(n: int = 4, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = rng.normal(size=(H, W)) * 2.0
        out.append(a - logsumexp(a))
    return out


def test_leave_one_out_is_the_mean_of_the_other_images():
    lds = _lds()
    avg = OtherImagesAverage(lds, compute_size=(50, 60))
    for k, ld in enumerate(lds):
        got = avg.nonfixation_log_density(ld, (H, W))
        others = [np.exp(resize_log_density(o, (50, 60))) for j, o in enumerate(lds) if j != k]
        want = resize_log_density(np.log(np.mean(others, axis=0)), (H, W))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
        assert abs(logsumexp(got)) < 1e-12
    with pytest.raises(SchemaError, match="at least 2"):
        OtherImagesAverage(lds[:1]).nonfixation_log_density(lds[0], (H, W))


def test_equals_pysaliency_shuffled_baseline_model(tmp_path, ref_python):
    lds = _lds(n=5, seed=3)
    np.save(tmp_path / "lds.npy", np.stack(lds))
    script = tmp_path / "ref.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import pysaliency
        import pysaliency.models
        from pysaliency.datasets import get_image_hash
        lds = np.load({str(tmp_path / "lds.npy")!r})
        images = [np.full(({H}, {W}, 3), k, dtype=np.uint8) for k in range(len(lds))]
        stimuli = pysaliency.Stimuli(images)
        ids = [get_image_hash(im) for im in images]
        class Given(pysaliency.Model):
            def _log_density(self, stimulus):
                return lds[ids.index(get_image_hash(stimulus))].copy()
        base = pysaliency.models.ShuffledBaselineModel(Given(caching=False), stimuli, library="numpy")
        out = [base.log_density(stimuli[k]).tolist() for k in range(len(lds))]
        json.dump(out, open(sys.argv[1], "w"))
    """))
    r = subprocess.run([str(ref_python), str(script), str(tmp_path / "out.json")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ref = np.array(json.loads((tmp_path / "out.json").read_text()))
    avg = OtherImagesAverage(lds)
    for k, ld in enumerate(lds):
        np.testing.assert_allclose(avg.nonfixation_log_density(ld, (H, W)), ref[k], rtol=0, atol=1e-6)


def test_evaluate_scores_sauc_on_the_model_average_map():
    from tests.metrics.test_probabilistic import _toy

    shards = _toy(n=4, seed=2)
    lds = dict(zip(shards.stimuli, _lds(n=4, seed=5), strict=True))
    # the toy shard set's maps are 36 × 48
    lds = {s: resize_log_density(v, (36, 48)) for s, v in lds.items()}
    res = evaluate(lds, shards, metrics=["sauc"], probabilistic=True, sauc_baseline="model",
                   keep_per_fixation=True)
    assert res.summary["sauc_baseline"] == "model"
    avg = OtherImagesAverage(lds[s] for s in shards.stimuli)
    from saliency.metrics.streaming import METRICS

    for gt in shards.iter_ground_truth():
        smap = metric_maps(lds[gt.stimulus], kinds=["sauc"],
                           nonfixation_log_density=avg.nonfixation_log_density(lds[gt.stimulus], (36, 48)))["sauc"]
        m = METRICS.get("sauc")("pysaliency", seed=0)
        # the same negatives as evaluate: every other image's fixations
        frame = shards.fixations.data
        other = frame[frame["stimulus"] != gt.stimulus]
        want = m.update(smap, x_px=gt.fixations["x"].to_numpy(), y_px=gt.fixations["y"].to_numpy(),
                        density=gt.density, neg_x_px=other["x"].to_numpy(), neg_y_px=other["y"].to_numpy(),
                        shape=(36, 48))
        got = res.per_image.set_index("stimulus").loc[gt.stimulus, "sauc"]
        assert got == pytest.approx(want, abs=1e-12)
    centre = evaluate(lds, shards, metrics=["sauc"], probabilistic=True)
    assert centre.summary["sauc_baseline"] == "centre" and centre.summary["sauc"] != res.summary["sauc"]
    with pytest.raises(ConfigError, match="shuffled-AUC baseline"):
        evaluate(lds, shards, metrics=["sauc"], probabilistic=True, sauc_baseline="uniform")
