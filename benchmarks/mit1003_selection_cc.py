"""Mean CC between MIT1003 maps from all fixations and maps of candidate fixation selections (mit_fft, σ 24 px).

    python benchmarks/mit1003_selection_cc.py outputs/mit1003/fixations.parquet 4    # every 4th image

Evidence for the authors' map convention (docs/datasets.md): the published maps correlate with
all-fixation maps at CC ≈ 0.90; the candidate rules are compared by the same CC here.
"""
import sys

import numpy as np

from saliency.fixations.table import FixationTable
from saliency.maps.fusion import SeparableGaussian
from saliency.maps.options import MapOptions, resolved_fc, stimulus_map

table = FixationTable.read_parquet(sys.argv[1])
stims = table.stimuli()[:: int(sys.argv[2]) if len(sys.argv) > 2 else 1]
cands = ["all", "drop-first", "index=1:6,min-length=6", "index=1:6", "index=0:6", "index=1:7", "drop-first,max=5"]
groups = {k: g for k, g in table.data.groupby("stimulus")}
cc = {c: [] for c in cands}
nfix = {c: 0 for c in cands}
for s in stims:
    info = table.meta.stimuli[s]
    h, w = info.height_px, info.width_px
    ref = None
    for c in cands:
        o = MapOptions(sigma=24.0, mode="mit_fft", selection=c)
        blur = SeparableGaussian(h, w, 24.0, o.mode, o.truncate, resolved_fc(o, 24.0, h, w))
        rows = groups[s]
        nfix[c] += len(o.effective_selection.apply(rows))
        m = stimulus_map(rows, blur, o).astype(np.float64)
        if ref is None:
            ref = m
        a, b = (ref - ref.mean()) / ref.std(), (m - m.mean()) / m.std()
        cc[c].append(float((a * b).mean()))
print(f"{len(stims)} stimuli")
for c in cands:
    print(f"{c:28s} fixations {nfix[c]:7d}  mean CC with all-fixation maps {np.mean(cc[c]):.4f}  median {np.median(cc[c]):.4f}")
