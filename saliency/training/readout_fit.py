"""Training the readout network on cached frozen features, few-shot adaptation, and scoring.

Loss: the fixation log-likelihood (DeepGaze): −mean over images of the mean over that image's fixations of
log p(fixation pixel) on the letterbox canvas; reported as information gain over a uniform canvas,
bits per fixation (``ll_bits``: log2(cells) + mean log2 p; cells = readout grid cells when training on
the grid, the default).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from saliency.datasets import Letterbox
from saliency.datasets.multi import MultiDatasetBatches
from saliency.errors import ConfigError
from saliency.models.readout import ReadoutNet, fit_centre_bias


@dataclass
class ReadoutData:
    """One dataset of a readout run: its shards, cached features, canvas fixations and splits."""

    name: str
    shards: Any
    features: dict[str, list[torch.Tensor]]
    fixations: dict[str, np.ndarray]
    splits: dict[str, list[str]]


def _batch(d: ReadoutData, names: Sequence[str], canvas: tuple[int, int] | None = None,
           grid: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Stacked features and per-image fixation indices: canvas pixels, or (``grid``) cells of the
    feature grid of the first depth (canvas pixel → the cell containing it)."""
    n_feat = len(d.features[names[0]])
    feats = [torch.stack([d.features[s][k] for s in names]) for k in range(n_feat)]
    fix = [torch.as_tensor(d.fixations[s]) for s in names]
    if grid:
        H, W = canvas
        gh, gw = feats[0].shape[-2:]
        fix = [torch.clamp((f // W) * gh // H, max=gh - 1) * gw + torch.clamp((f % W) * gw // W, max=gw - 1)
               for f in fix]
    return feats, fix


def log_likelihood(logp: torch.Tensor, fix: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over images (with ≥ 1 fixation) of the mean log p (nats) at the fixation pixels."""
    flat = logp.flatten(1)
    vals = [flat[i, f].mean() for i, f in enumerate(fix) if len(f)]
    return torch.stack(vals).mean()


def init_centre_bias(net: ReadoutNet, data: Mapping[str, ReadoutData], canvas: tuple[int, int],
                     split: str = "train") -> None:
    """Set each dataset row's centre bias to the ML fit to its ``split`` fixations (canvas coordinates)."""
    H, W = canvas
    with torch.no_grad():
        for name, d in data.items():
            if name not in net.datasets:
                continue
            idx = np.concatenate([d.fixations[s] for s in d.splits[split]])
            u = torch.as_tensor((idx % W + 0.5) / W)
            v = torch.as_tensor((idx // W + 0.5) / H)
            net.dataset_params[net.datasets.index(name), :5] = fit_centre_bias(u, v)


def fit_readout(net: ReadoutNet, data: Mapping[str, ReadoutData], canvas: tuple[int, int], *, epochs: int = 20,
                batch_size: int = 16, lr: float = 1e-2, weights: Mapping[str, float] | None = None, seed: int = 0,
                split: str = "train", only_dataset_params: bool = False, weight_decay: float = 0.0,
                grid: bool = True, log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Train ``net``'s readout and per-dataset parameters (or only the latter) on cached features.

    ``grid``: evaluate the likelihood on the readout grid (stride 8: the log-density normalised over the
    grid cells, fixations binned into cells; 64× fewer pixels than the canvas, the same parameters — the
    model then upsamples its logits bilinearly and normalises on the canvas); else on the canvas pixels.

    Each batch comes from one dataset (:class:`MultiDatasetBatches`) and uses that dataset's row of
    ``dataset_params``. Adam, cosine learning-rate decay. Returns one history row per epoch.
    """
    torch.manual_seed(seed)
    for name in data:
        if name not in net.datasets:
            raise ConfigError(f"fit_readout: dataset {name!r} has no parameter row; the net has {net.datasets}")
    sizes = {n: len(d.splits[split]) for n, d in data.items()}
    sampler = MultiDatasetBatches(sizes, batch_size, weights, seed)
    params = [net.dataset_params] if only_dataset_params else [p for p in net.parameters() if p.requires_grad]
    if only_dataset_params:
        for p in net.readout.parameters():
            p.requires_grad_(False)
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    total = epochs * len(sampler)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    history = []
    net.train()
    for epoch in range(epochs):
        t0, losses = time.perf_counter(), []
        for name, idx in sampler.epoch(epoch):
            d = data[name]
            names = [d.splits[split][i] for i in idx]
            feats, fix = _batch(d, names, canvas, grid)
            logp = net.head(feats, tuple(feats[0].shape[-2:]) if grid else canvas, name)
            loss = -log_likelihood(logp, fix)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        cells = math.prod(feats[0].shape[-2:]) if grid else canvas[0] * canvas[1]
        row = {"epoch": epoch + 1, "loss_nats": float(np.mean(losses)),
               "ll_bits": (math.log(cells) - float(np.mean(losses))) / math.log(2),
               "seconds": time.perf_counter() - t0}
        history.append(row)
        if log is not None:
            log(f"epoch {row['epoch']}/{epochs}: loss {row['loss_nats']:.4f} nats, "
                f"IG over uniform {row['ll_bits']:.3f} bits/fix, {row['seconds']:.1f} s")
    if only_dataset_params:
        for p in net.readout.parameters():
            p.requires_grad_(True)
    net.eval()
    return history


#: Named few-shot fitting recipes for :func:`adapt_readout` (``saliency adapt --method``; the keyword arguments).
ADAPT_METHODS: dict[str, dict[str, Any]] = {
    # the first release: minibatch Adam, 30 passes, no prior
    "adam": {"method": "adam", "epochs": 30, "lr": 3e-2, "prior": 0.0},
    # full-batch L-BFGS to convergence (maximum likelihood on the adaptation images)
    "lbfgs": {"method": "lbfgs", "epochs": 100, "lr": 1.0, "prior": 0.0},
    # the same, also fitting the readout's operating-point shifts (one per hidden layer)
    "lbfgs_shifts": {"method": "lbfgs", "epochs": 100, "lr": 1.0, "prior": 0.0, "shifts": True},
}
ADAPT_METHODS["default"] = ADAPT_METHODS["lbfgs_shifts"]


def adapt_readout(net: ReadoutNet, d: ReadoutData, canvas: tuple[int, int], *, stimuli: Sequence[str],
                  epochs: int = 30, lr: float = 3e-2, seed: int = 0, method: str = "adam", prior: float = 0.0,
                  shifts: bool = False, log: Callable[[str], None] | None = None) -> ReadoutNet:
    """A copy of ``net`` with one parameter row for ``d.name`` (started from the unseen-dataset mean and the
    centre bias fitted to ``stimuli``'s fixations), fitted on ``stimuli`` with the readout frozen.

    ``method``: ``"adam"`` (minibatches of 16, ``epochs`` passes, cosine-decayed ``lr``) or ``"lbfgs"``
    (full batch, at most ``epochs`` iterations, strong-Wolfe line search). ``prior``: weight of a Gaussian
    prior pulling the row toward its start (MAP; ``prior · ‖row − start‖²`` added to the loss in nats per
    fixation), 0 = maximum likelihood. ``shifts``: also fit the readout's per-dataset operating-point shifts;
    for a model trained without them, in a second stage: the model's own parameters are fitted first, then
    the shifts join at 0 (:meth:`ReadoutNet.with_shifts`) and everything is fitted again from there.
    """
    if method not in ("adam", "lbfgs"):
        raise ConfigError(f"adapt: unknown method {method!r}; use adam or lbfgs")
    sub = ReadoutData(d.name, d.shards, d.features, d.fixations, {"adapt": list(stimuli)})
    if shifts and not net.shifts:
        first = adapt_readout(net, d, canvas, stimuli=stimuli, epochs=epochs, lr=lr, seed=seed, method=method,
                              prior=prior, log=log)
        return _fit_row(first.with_shifts(), sub, canvas, epochs=epochs, lr=lr, seed=seed, method=method,
                        prior=prior, log=log)
    new = copy.deepcopy(net)
    with torch.no_grad():
        row = new.params_for(None).detach().clone()
    new.datasets = (d.name,)
    new.dataset_params = torch.nn.Parameter(row[None].clone())
    new.dataset = None
    init_centre_bias(new, {d.name: sub}, canvas, split="adapt")
    return _fit_row(new, sub, canvas, epochs=epochs, lr=lr, seed=seed, method=method, prior=prior, log=log)


def _fit_row(new: ReadoutNet, sub: ReadoutData, canvas: tuple[int, int], *, epochs: int, lr: float, seed: int,
             method: str, prior: float, log: Callable[[str], None] | None) -> ReadoutNet:
    """Fit ``new``'s one parameter row on ``sub.splits["adapt"]`` in place (see :func:`adapt_readout`)."""
    stimuli = sub.splits["adapt"]
    if method == "adam" and prior == 0:
        fit_readout(new, {sub.name: sub}, canvas, epochs=epochs, batch_size=min(16, len(stimuli)), lr=lr, seed=seed,
                    split="adapt", only_dataset_params=True, log=log)
        return new
    start = new.dataset_params.detach().clone()
    for p in new.readout.parameters():
        p.requires_grad_(False)
    feats, fix = _batch(sub, list(stimuli), canvas, grid=True)
    grid = tuple(feats[0].shape[-2:])
    with torch.no_grad():
        zs = new.project(feats)  # the readout is frozen: its first layer's projections are computed once
    del feats
    new.train()

    def objective() -> torch.Tensor:
        nll = -log_likelihood(new.head(zs, grid, None, projected=True), fix)
        return nll + prior * ((new.dataset_params - start) ** 2).sum()

    if method == "lbfgs":
        opt = torch.optim.LBFGS([new.dataset_params], lr=lr, max_iter=epochs, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = objective()
            loss.backward()
            return loss

        opt.step(closure)
    else:
        opt = torch.optim.Adam([new.dataset_params], lr=lr)
        for _ in range(epochs * 4):
            opt.zero_grad()
            loss = objective()
            loss.backward()
            opt.step()
    if log is not None:
        log(f"adapted ({method}, prior {prior:g}): loss {float(objective().detach()):.4f} nats/fixation")
    for p in new.readout.parameters():
        p.requires_grad_(True)
    new.eval()
    return new


@torch.no_grad()
def predict_cached(net: ReadoutNet, d: ReadoutData, stimuli: Sequence[str], canvas: tuple[int, int],
                   dataset: str | torch.Tensor | None = None, batch_size: int = 16) -> dict[str, np.ndarray]:
    """stimulus → probability map at its original size (letterbox inverse), from cached features."""
    net.eval()
    man = d.shards.manifest.set_index("stimulus")
    out = {}
    for b in range(0, len(stimuli), batch_size):
        names = list(stimuli[b:b + batch_size])
        feats, _ = _batch(d, names)
        logp = net.head(feats, canvas, dataset)[:, 0].numpy()
        for name, lp in zip(names, logp, strict=True):
            lb = Letterbox.fit(int(man.loc[name, "height"]), int(man.loc[name, "width"]), *canvas)
            out[name] = np.exp(lb.log_density_to_stimulus(lp)).astype(np.float32)
    return out


def score(preds: Mapping[str, np.ndarray], shards: Any, stimuli: Sequence[str],
          metrics: Sequence[str] | None = None) -> dict[str, float]:
    """Project metrics (pysaliency convention) of ``preds`` on ``stimuli``: the summary dict."""
    from saliency.metrics import evaluate

    res = evaluate(dict(preds), shards, stimuli=list(stimuli), metrics=list(metrics) if metrics else None,
                   log_density=False)
    return {k: float(v) for k, v in res.summary.items() if isinstance(v, (int, float))}


def gap_closed(nss: float, centre: float, gold: float) -> float:
    """Fraction of the centre-bias → gold-standard NSS gap closed: (nss − centre) / (gold − centre)."""
    return (nss - centre) / (gold - centre)
