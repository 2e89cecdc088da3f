"""Additive (Bahdanau) attention pooling over spatial positions (Bahdanau et al., ICLR 2015,
arXiv:1409.0473; used for image-level heads as in Xu et al. 2015 "Show, attend and tell")."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class AdditiveAttentionPool(nn.Module):
    """Pool (B, C, H, W) features to (B, C) with additive attention over the H·W positions.

    ``e_i = w_aᵀ tanh(W_q q + W_k h_i)``, ``α = softmax_i(e)``, ``out = Σ_i α_i h_i``. The query q is a
    learned vector (``query_dim=None``) or a given global vector (B, query_dim) passed to ``forward``
    (e.g. the globally pooled features of another branch). Returns ``(pooled (B, C), α (B, 1, H, W))``,
    α summing to 1 over each image; also stored, detached, in ``self.attention``.
    Init: ``w_a`` is zero-initialised, so α starts uniform and the pool starts as global average pooling.
    Cost: C·hidden·H·W + hidden·H·W MACs.
    """

    def __init__(self, channels: int, hidden: int | None = None, query_dim: int | None = None) -> None:
        super().__init__()
        hidden = hidden or max(8, channels // 2)
        self.key = nn.Conv2d(channels, hidden, 1)
        self.query_dim = query_dim
        if query_dim is None:
            self.query = nn.Parameter(torch.randn(hidden) * 0.02)  # W_q q folded into one learned vector
            self.query_proj = None
        else:
            self.query = None
            self.query_proj = nn.Linear(query_dim, hidden, bias=False)
        self.score = nn.Conv2d(hidden, 1, 1, bias=False)  # w_a
        nn.init.zeros_(self.score.weight)
        self.attention: Tensor | None = None

    def forward(self, x: Tensor, query: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        k = self.key(x)  # (B, hidden, H, W)
        if self.query_proj is not None:
            if query is None:
                raise ValueError(f"this pool was built with query_dim={self.query_dim}: pass a (B, "
                                 f"{self.query_dim}) query")
            q = self.query_proj(query)[:, :, None, None]
        else:
            if query is not None:
                raise ValueError("this pool has a learned query (query_dim=None); do not pass one")
            q = self.query[None, :, None, None]
        e = self.score(torch.tanh(k + q)).reshape(b, h * w)
        alpha = e.softmax(dim=-1)
        pooled = torch.bmm(x.reshape(b, c, h * w), alpha.unsqueeze(-1)).squeeze(-1)
        alpha = alpha.reshape(b, 1, h, w)
        self.attention = alpha.detach()
        return pooled, alpha


class AttentionPoolClassifier(nn.Module):
    """Image-level head: :class:`AdditiveAttentionPool` → linear → logits (B, num_classes).

    E.g. a "has a salient object" classifier on encoder features (``num_classes=1``, BCE-with-logits).
    ``self.attention``: the pool's map (B, 1, H, W).
    """

    def __init__(self, channels: int, num_classes: int = 1, hidden: int | None = None) -> None:
        super().__init__()
        self.pool = AdditiveAttentionPool(channels, hidden)
        self.fc = nn.Linear(channels, num_classes)

    @property
    def attention(self) -> Tensor | None:
        return self.pool.attention

    def forward(self, x: Tensor) -> Tensor:
        pooled, _ = self.pool(x)
        return self.fc(pooled)
