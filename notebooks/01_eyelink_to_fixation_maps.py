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
# # From raw EyeLink recordings to fixation maps
#
# This walkthrough reads real EyeLink ASC exports (`../shared/fixtures/eyelink`), turns them into the
# canonical fixation table (every dropped fixation counted with its reason), detects fixations from the
# raw samples with I-VT as a cross-check of the tracker's own EFIX events, and builds Gaussian fixation
# maps. A second part does the same with the raw 200 Hz gaze of 29 DOVES observers on a real image.
#
# Conventions: positions are 0-based stimulus pixels (pixel *j* covers x ∈ [j, j+1)); times in ms;
# σ of the fixation-map Gaussian is one degree of visual angle converted with the viewing geometry.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from saliency.fixations import DatasetMeta, StimulusInfo
from saliency.fixations.accounting import Accounting
from saliency.fixations.detect import detect_fixations_ivt
from saliency.maps import fixation_count_map, fuse_fixations
from saliency.readers.base import ReadOptions
from saliency.readers.eyelink import read_asc
from saliency.reports.figures import overlay
from saliency.units import ViewingGeometry

SHARED = Path(os.environ.get("SALIENCY_SHARED", Path.cwd().resolve().parents[1] / "shared"))
ASC = SHARED / "fixtures" / "eyelink"
sorted(p.name for p in ASC.glob("*.asc"))

# %% [markdown]
# ## 1. One recording: EFIX events → fixation table
#
# The files are pymovements' example recordings (a text-reading display, no image file shipped), so the
# *screen* is the stimulus here. `read_asc` reports the screen size from `DISPLAY_COORDS`/`GAZE_COORDS`.

# %%
path = ASC / "eyelink_monocular_example.asc"
probe = read_asc(path, default_stimulus="screen")
width, height = probe.screen_px
print(f"screen {width}×{height} px, {probe.sample_rate_hz:.0f} Hz, eyes {probe.eyes_recorded}, "
      f"{len(probe.trials)} trial(s)")

# Viewing geometry: a 1280×1024 screen, 37.5×30 cm at 60 cm (an EyeLink Portable Duo set-up).
geometry = ViewingGeometry(width, height, screen_width_cm=37.5, screen_height_cm=30.0, distance_cm=60.0)
print(f"{geometry.pixels_per_degree:.1f} px per degree")

# %%
accounting = Accounting()
options = ReadOptions(on_error="raise", out_of_stimulus="drop")
rec = read_asc(path, accounting=accounting, default_stimulus="screen",
               stimulus_sizes={"screen": (width, height)}, keep_samples=True)
meta = DatasetMeta("eyelink-demo", {"screen": StimulusInfo("screen", width, height)}, geometry=geometry)
table = rec.to_table(meta, options, accounting)
table.data[["observer", "trial", "index", "x", "y", "t_start_ms", "duration_ms", "eye", "source"]]

# %% [markdown]
# Every EFIX line is either kept or counted under a reason:

# %%
{k: v for k, v in accounting.to_dict().items() if k != "files"}

# %% [markdown]
# ## 2. Cross-check: I-VT on the raw samples
#
# Velocity threshold 30°/s (Salvucci & Goldberg 2000), minimum 60 ms, neighbours merged within 75 ms and
# 0.5°. The tracker's own parser uses a different rule (velocity *and* acceleration thresholds), so the
# counts differ slightly; the positions should agree.

# %%
# the longest sampled trial among the recordings (the example files are short excerpts)
candidates = []
for p in sorted(ASC.glob("*.asc")):
    r = read_asc(p, default_stimulus="screen", keep_samples=True,
                 stimulus_sizes={"screen": (width, height), "text.png": (1920, 1080)})
    for trial, smp in r.samples.items():
        candidates.append((len(smp.time_ms), p.name, trial, smp, r))
n, name, trial, samples, r = max(candidates, key=lambda c: c[0])
geo = ViewingGeometry(*r.screen_px, screen_width_cm=53.0, screen_height_cm=30.0, distance_cm=60.0)
det = detect_fixations_ivt(samples.time_ms, samples.x_px, samples.y_px, geo)
efix = r.fixations[r.fixations["trial"] == trial]
print(f"{name}, trial {trial}: {n} samples at {r.sample_rate_hz:.0f} Hz → {len(det)} I-VT fixations; "
      f"the tracker's EFIX: {len(efix)}")
print(pd.DataFrame({"x_px": det.x_px, "y_px": det.y_px, "t_start_ms": det.t_start_ms,
                    "duration_ms": det.duration_ms}).round(1).to_string())

fig, ax = plt.subplots(figsize=(8, 4))
t0 = samples.time_ms[0]
ax.plot(samples.time_ms - t0, samples.x_px, lw=0.8, label="x (px)")
ax.plot(samples.time_ms - t0, samples.y_px, lw=0.8, label="y (px)")
for s, d in zip(det.t_start_ms - t0, det.duration_ms, strict=True):
    ax.axvspan(s, s + d, color="tab:green", alpha=0.15)
ax.set_xlabel("time from first sample (ms)")
ax.set_title("raw gaze with I-VT fixations (green)")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. All recordings → one fixation map on the screen
#
# Each file is one observer. The binocular file is averaged over both eyes (`eye="mean"`), the 2 kHz
# file keeps its half-millisecond durations. Screens differ between files, so we keep the 1280×1024 ones
# (the "no dummy" recording shows `Images/text.png` full-screen, `IMGLOAD FILL`, on a 1920×1080 display:
# placing an IMGLOAD image needs its size, given here).

# %%
acc_all = Accounting()
frames = []
sizes = {"screen": (width, height), "text.png": (1920, 1080)}
for p in sorted(ASC.glob("*.asc")):
    r = read_asc(p, accounting=acc_all, default_stimulus="screen", stimulus_sizes=sizes)
    if r.screen_px != (width, height):
        print(f"skip {p.name}: screen {r.screen_px}")
        continue
    frames.append(r.to_table(meta, options, acc_all).data)
fix = pd.concat(frames, ignore_index=True)
print(f"{len(fix)} fixations from {fix['observer'].nunique()} observers")

sigma_px = geometry.pixels_per_degree * 1.0  # 1° of visual angle
density = fuse_fixations(fix["x"].to_numpy(), fix["y"].to_numpy(), height, width, sigma_px)
counts = fixation_count_map(fix["x"].to_numpy(), fix["y"].to_numpy(), height, width)
print(f"σ = {sigma_px:.1f} px; map sums to {density.sum():.6f}; {int(counts.sum())} fixations binned")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
axes[0].imshow(density, cmap="inferno")
axes[0].scatter(fix["x"] - 0.5, fix["y"] - 0.5, s=12, c="cyan")  # imshow puts pixel centres at integers
axes[0].set_title("fixation density (σ = 1°) and fixations")
axes[1].imshow(np.log10(density + 1e-12), cmap="viridis")
axes[1].set_title("log10 density")
for a in axes:
    a.set_axis_off()
plt.show()

# %% [markdown]
# ## 4. A real image: DOVES raw gaze of 29 observers
#
# DOVES (van der Linde et al. 2009) ships the picture, the authors' fixations and the raw 200 Hz traces.
# We detect fixations ourselves with I-VT and compare the map with the one from the authors' fixations.

# %%
from saliency.readers.doves import DOVES_PPD, read_doves  # noqa: E402

mat = SHARED / "fixtures" / "doves" / "img001.mat"
authors = read_doves(mat, fixations="authors")
h, w = authors.height_px, authors.width_px
doves_geometry = ViewingGeometry(w, h, ppd_override=DOVES_PPD)
ivt = read_doves(mat, fixations="ivt", geometry=doves_geometry)
acc_d = Accounting()
t_auth = authors.to_table(ReadOptions(), acc_d)
t_ivt = ivt.to_table(ReadOptions(), Accounting())
print(f"{len(t_auth)} authors' fixations, {len(t_ivt)} I-VT fixations, {t_auth.data['observer'].nunique()} observers")

maps = {}
for name, t in (("authors' fixations", t_auth), ("I-VT on raw gaze", t_ivt)):
    maps[name] = fuse_fixations(t.data["x"].to_numpy(), t.data["y"].to_numpy(), h, w, DOVES_PPD)
cc = np.corrcoef(*(m.ravel() for m in maps.values()))[0, 1]
print(f"correlation between the two maps: {cc:.3f}")

picture = authors.picture
img = (255 * (picture - picture.min()) / np.ptp(picture)).astype(np.uint8)
rgb = np.repeat(img[..., None], 3, axis=2)
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].imshow(rgb)
axes[0].set_title(authors.stimulus)
for a, (name, m) in zip(axes[1:], maps.items(), strict=True):
    a.imshow(overlay(rgb, m))
    a.set_title(name)
for a in axes:
    a.set_axis_off()
plt.show()
