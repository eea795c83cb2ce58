"""Session embeddings: a list of shown candidates -> one vector.

`heads`:          mean and spread (standard deviation) of the four head probabilities over the list, their
                  mean over the top half of the list (ranks 1..ceil(L/2)) and the heads of the first-ranked
                  item (the order carries information about the scale of w);
`heads+content`:  the same plus the mean content features (tag shares, log duration, log popularity).

An embedding is built from sums over the list of per-slot features (`slot_features`: P, P^2, content) and
the first item's heads (`combine`), so a simulator can compute it for many candidate w at once with one
masked matmul.
"""

from __future__ import annotations

import numpy as np
import torch

EMBEDDINGS = ("heads", "heads+content")


class ListEmbedder:
    """Per-slot features and their combination into a list embedding."""

    def __init__(self, kind: str = "heads") -> None:
        if kind not in EMBEDDINGS:
            raise ValueError(f"value_model.embedding must be one of {EMBEDDINGS}; found {kind!r}")
        self.kind = kind

    def slot_features(self, P: np.ndarray, content: np.ndarray | None) -> np.ndarray:
        """(S, M, C) float32: the heads, their squares and (heads+content) the content features."""
        parts = [P, P * P]
        if self.kind == "heads+content":
            if content is None:
                raise ValueError("embedding heads+content needs content features in the pools")
            parts.append(content)
        return np.concatenate(parts, axis=-1).astype(np.float32)

    def combine(
        self, sums: torch.Tensor, half: torch.Tensor, first: torch.Tensor, length: torch.Tensor
    ) -> torch.Tensor:
        """(n, S, D) embedding from list sums (n, S, C), head sums over the top half of the list (n, S, K),
        first-item heads (n, S, K) and list lengths (S,)."""
        K = first.shape[-1]
        n = length.to(sums.dtype).clamp(min=1.0)[None, :, None]
        m = sums[..., :K] / n
        sq = sums[..., K : 2 * K] / n
        n_half = torch.div(length + 1, 2, rounding_mode="floor").to(sums.dtype).clamp(min=1.0)[None, :, None]
        parts = [m, (sq - m * m).clamp(min=0).sqrt(), half / n_half, first]
        if self.kind == "heads+content":
            parts.append(sums[..., 2 * K :] / n)
        return torch.cat(parts, dim=-1)
