# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From a trained model to evaluation and figures
#
# This walkthrough takes a small slice of OSIE (`../shared/datasets/osie`), builds its ground truth,
# trains a small attention network on it for a few steps, and then does what one does with any trained
# saliency model:
#
# 1. predict maps at the stimuli's original size;
# 2. score them with `saliency.metrics` in the **pysaliency convention** next to the baselines (centre
#    bias, leave-one-observer-out gold standard, …) and compute the fraction of the centre-bias →
#    gold-standard NSS gap the model closes;
# 3. draw figures: prediction and ground truth over the images, the network's attention maps
#    (`saliency.models.attention_maps`), a metrics bar chart;
# 4. export the predictions as 8-bit PNG (benchmark submission format) and as a pysaliency HDF5 model
#    export, and read both back.
#
# Sizes are tiny so that the notebook runs in about a minute on a laptop CPU: 24 images, a 96×128
# canvas, 4 training steps. The numbers are therefore those of a barely-trained model, close to the
# centre bias; the pipeline (`saliency run pipelines/osie.toml --quick`: about 51 % of the centre-bias →
# gold-standard NSS gap closed) trains a real one. Everything written goes to
# `$SALIENCY_NOTEBOOK_OUT` (default: a temporary folder).

# %%
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from PIL import Image

SHARED = Path(os.environ.get("SALIENCY_SHARED", Path.cwd().resolve().parents[1] / "shared"))
OSIE = SHARED / "datasets" / "osie"
OUT = Path(os.environ.get("SALIENCY_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="saliency-nb02-"))
N_IMAGES = 24
torch.manual_seed(0)
torch.set_num_threads(min(2, torch.get_num_threads()))
print(f"data: {OSIE}\noutputs: {OUT}")

# %% [markdown]
# ## 1. Ground truth for a slice of OSIE
#
# `ingest` reads the authors' `fixations.mat` (1-based MATLAB pixels, converted to our 0-based
# convention at the boundary). We keep the first 24 stimuli by name and build Gaussian fixation maps with
# the authors' σ = 24 px into checksummed shards.

# %%
from saliency.fixations.table import FixationTable  # noqa: E402
from saliency.ingest import ingest  # noqa: E402
from saliency.maps import MapOptions  # noqa: E402
from saliency.shards import build_shards, open_shards  # noqa: E402

res = ingest("nus", [OSIE], dataset="osie", out=None, workers=1)
keep = sorted(res.table.meta.stimuli)[:N_IMAGES]
meta = res.table.meta
sub_meta = dataclasses.replace(meta, stimuli={k: meta.stimuli[k] for k in keep})
table = FixationTable.from_frame(res.table.data[res.table.data["stimulus"].isin(keep)], sub_meta)
build_shards(table, OUT / "shards", MapOptions(sigma=24.0, sigma_unit="px"))
shards = open_shards(OUT / "shards")
print(f"{len(table)} fixations of {table.data['observer'].nunique()} observers on {len(shards)} images; "
      f"σ = {shards.meta['sigma_px']:.0f} px")

# %% [markdown]
# ## 2. A small trained model
#
# EfficientNet-Lite0 (ImageNet weights shipped with the package) with CBAM attention after the
# stride-8, 16 and 32 stages, a U-Net decoder and 8 learned Gaussian centre-bias priors
# (`effnet_lite0_cbam` in the zoo). One epoch of 4 steps on a 96×128 canvas; the split is deterministic
# by stimulus name (70 % train, 10 % validation, 20 % test).

# %%
from saliency.training import DataConfig, RunConfig, TrainConfig, load_model, train  # noqa: E402
from saliency.training.config import ModelChoice  # noqa: E402

cfg = RunConfig(
    name="nb02", seed=0, runs_dir=str(OUT / "runs"),
    data=DataConfig(dataset="osie", task="fixation", shards=str(OUT / "shards"), height=96, width=128,
                    split_fractions=(0.7, 0.1, 0.2), hflip=False, photometric=False),
    model=ModelChoice(name="effnet_lite0_cbam"),
    train=TrainConfig(epochs=1, batch_size=4, eval_batch_size=8, max_steps_per_epoch=4, device="cpu",
                      final_eval=False, patience=0),
)
result = train(cfg)
model = load_model(result.best_checkpoint)
splits = json.loads((result.run_dir / "splits.json").read_text())["splits"]
test = sorted(splits["test"])
print(f"trained {result.epochs_completed} epoch in {result.seconds:.1f} s; best val NSS {result.best_value:.3f}; "
      f"{len(splits['train'])} train / {len(splits['val'])} val / {len(test)} test images")

# %% [markdown]
# ## 3. Predict and evaluate against the baselines
#
# `predict_maps` letterboxes each image to the training canvas and returns a probability map at the
# image's original size (it sums to 1). The pysaliency convention scores it as pysaliency does (its
# epsilons, normalisations and AUC definitions; see `saliency.metrics.conventions`). The table shows means
# over images; pysaliency's own per-fixation averages are in the summary too (`nss_fixation_mean`, …).
# The baselines are scored on the **same test images**, and the centre-bias Gaussian, fitted to the
# training images' fixations, is also the reference of the model's information gain (so the centre bias
# has IG 0 by construction).

# %%
from saliency.baselines import compute_baselines  # noqa: E402
from saliency.metrics.centre_bias import fit_centre_gaussian  # noqa: E402
from saliency.metrics import evaluate, gap_closed  # noqa: E402
from saliency.metrics.evaluation import sizes_from_manifest  # noqa: E402
from saliency.training import predict_maps  # noqa: E402

paths = [shards.image_path(s) for s in test]
predictions = {s: m for s, (_, m) in zip(test, predict_maps(model, paths), strict=True)}
metrics = ["nss", "cc", "auc_judd", "sauc", "kl", "sim", "ig"]
sizes = sizes_from_manifest(shards.manifest)
centre = fit_centre_gaussian(shards.fixations.data, sizes, sorted(splits["train"]))
scored = evaluate(predictions, shards, metrics=metrics, convention="pysaliency", stimuli=test, seed=0,
                  baseline=lambda gt: centre.density(gt.height, gt.width))
baselines = compute_baselines(shards, convention="pysaliency", metrics=metrics, stimuli=test,
                              train_stimuli=sorted(splits["train"]), seed=0,
                              which=("chance", "centre_gaussian", "gold_standard"))
rows = {"model": scored.summary, **{name: r.summary for name, r in baselines.items()}}
results = pd.DataFrame({name: {m: s.get(m) for m in metrics} for name, s in rows.items()}).T
frac = gap_closed(rows["model"]["nss"], rows["centre_gaussian"]["nss"], rows["gold_standard"]["nss"])
print(f"NSS gap closed (centre bias → gold standard): {100 * frac:.1f} %")
results.round(3)

# %% [markdown]
# Per image (the report's galleries rank these):

# %%
scored.per_image.round(3)

# %%
from saliency.reports.report import display_name  # noqa: E402

shown = ["nss", "cc", "auc_judd", "sauc", "sim", "ig"]
fig, axes = plt.subplots(1, len(shown), figsize=(15, 3.0), layout="constrained")
for ax, m in zip(axes, shown, strict=True):
    ax.bar(range(len(rows)), [rows[n][m] for n in rows], color=["#c0392b"] + ["#7f8c8d"] * (len(rows) - 1))
    ax.set_xticks(range(len(rows)), list(rows), rotation=60, ha="right", fontsize=8)
    ax.set_title(display_name(m))
    ax.grid(axis="y", alpha=0.3)
plt.show()

# %% [markdown]
# ## 4. Prediction, ground truth and attention over the images
#
# Heat maps are min-max normalised per image and blended over it (`saliency.reports.figures.overlay`).
# `attention_maps` runs the network once with hooks and returns every attention map its blocks computed;
# CBAM's spatial gates are (B, 1, h, w) at the stage's stride.

# %%
from saliency.datasets import normalize_image  # noqa: E402
from saliency.models import attention_maps  # noqa: E402
from saliency.reports.figures import draw_points, overlay  # noqa: E402
from saliency.reports.rundir import load_image  # noqa: E402

show = list(scored.per_image.sort_values("nss", ascending=False)["stimulus"])[:3]
fig, axes = plt.subplots(len(show), 5, figsize=(17, 2.6 * len(show)), squeeze=False)
for row, stim in zip(axes, show, strict=True):
    gt = shards.load(stim)
    image = load_image(gt.image_path)
    small = np.asarray(Image.fromarray(image).resize((128, 96)))
    att = attention_maps(model, normalize_image(small)[None])
    spatial = {k: v[0, 0].numpy() for k, v in att.items() if v.ndim == 4 and v.shape[1] == 1}
    fx = gt.fixations
    panels = [("image", image),
              ("ground truth + fixations", draw_points(overlay(image, gt.density), fx["x"], fx["y"], radius=5)),
              (f"prediction (NSS {scored.per_image.set_index('stimulus').loc[stim, 'nss']:.2f})",
               overlay(image, predictions[stim]))]
    for name, a in list(spatial.items())[:2]:
        panels.append((f"attention {name} {a.shape[0]}×{a.shape[1]}", overlay(image, a, cmap="viridis")))
    for ax, (title, im) in zip(row, panels, strict=False):
        ax.imshow(im)
        ax.set_title(f"{stim}: {title}" if title == "image" else title, fontsize=9)
    for ax in row:
        ax.set_axis_off()
plt.show()
print("attention maps:", {k: tuple(v.shape) for k, v in att.items()})

# %% [markdown]
# ## 5. Export: 8-bit PNG and pysaliency HDF5
#
# * PNG (MIT / Tübingen benchmark submissions): one grey 8-bit image per stimulus at its size,
#   `round(255 · (m − min) / (max − min))`; the absolute scale is lost, the ranking kept.
# * pysaliency HDF5 (`export_model_to_hdf5` layout): one float64 dataset per stimulus named by its
#   minimal unique file name; `pysaliency.HDF5SaliencyMapModel` reads it. The fixations can go with it
#   (`export_fixations` → `stimuli.hdf5` + `fixations.hdf5`, read by `pysaliency.read_hdf5`).

# %%
from saliency.interop import (  # noqa: E402
    export_fixations,
    export_predictions,
    map_to_uint8,
    read_fixations_hdf5,
    read_prediction_png,
    read_predictions_hdf5,
)

written = export_predictions([(shards.image_path(s), predictions[s]) for s in test], OUT / "export",
                             formats=["png", "hdf5"])
back = read_predictions_hdf5(written["hdf5"])
for s in test:
    key = Path(s).name
    assert np.array_equal(back[key], predictions[s].astype(np.float64))
    png8 = read_prediction_png(written["png"] / (Path(s).stem + ".png"))
    assert png8.dtype == np.uint8 and png8.shape == predictions[s].shape and png8.max() == 255
    assert np.array_equal(png8, map_to_uint8(predictions[s]))
fix_files = export_fixations(table, OUT / "export")
fix_back = read_fixations_hdf5(fix_files["fixations"])
print({k: str(Path(v).relative_to(OUT)) for k, v in {**written, **fix_files}.items()})
print(f"{len(back)} maps read back from HDF5 (float64, identical); {len(fix_back)} fixations read back")
