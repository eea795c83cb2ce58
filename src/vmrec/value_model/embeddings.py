"""Session embeddings: a list of shown candidates -> one vector.

`heads`:          mean and spread (standard deviation) of the four head probabilities over the list, their
                  mean over the top half of the list (ranks 1..ceil(L/2)) and the heads of the first-ranked
                  item (the order carries information about the scale of w);
`heads+content`:  the same plus the mean content features (tag shares, log duration, log popularity);
`content`:        the same four statistics of the content features alone, no heads: the mean and spread
                  over the list, the mean over its top half and the first item's.

`content` describes a list by what was shown, not by what a model predicts of it. The predicted heads
still rank the simulated pools, but their error enters the loss once (through the ranking) instead of
twice: with a heads embedding the simulated lists are selected on the very predictions they are then
described by, while the observed lists were selected on the truth, so a model's errors bend the match
(docs/value_model.md).

An embedding is built from sums over the list of per-slot features (`slot_features`: P, P^2, content)
and of the order features over the top half and the first item (`order_features`: the heads, or the
content for `content`), so a simulator can compute it for many candidate w at once with one masked
matmul.
"""

from __future__ import annotations

import numpy as np
import torch

EMBEDDINGS = ("heads", "heads+content", "content")


class ListEmbedder:
    """Per-slot features and their combination into a list embedding."""

    def __init__(self, kind: str = "heads") -> None:
        if kind not in EMBEDDINGS:
            raise ValueError(f"value_model.embedding must be one of {EMBEDDINGS}; found {kind!r}")
        self.kind = kind

    @property
    def needs_content(self) -> bool:
        """Whether the pools must carry content features (see `content_of_videos`)."""
        return self.kind != "heads"

    def slot_features(self, P: np.ndarray, content: np.ndarray | None) -> np.ndarray:
        """(S, M, C) float32: the heads and their squares (heads, heads+content), the content features
        (heads+content), or the content features and their squares (content)."""
        if self.needs_content and content is None:
            raise ValueError(f"embedding {self.kind} needs content features in the pools")
        if self.kind == "content":
            parts = [content, content * content]
        else:
            parts = [P, P * P]
            if self.kind == "heads+content":
                parts.append(content)
        return np.concatenate(parts, axis=-1).astype(np.float32)

    def order_features(self, P: np.ndarray, F: np.ndarray) -> np.ndarray:
        """The per-slot features summed over the top half of the list and taken from its first item: the
        heads `P`, or (content) the content features, the first half of the slot features `F`."""
        if self.kind == "content":
            return F[..., : F.shape[-1] // 2]
        return P

    def combine(
        self, sums: torch.Tensor, half: torch.Tensor, first: torch.Tensor, length: torch.Tensor
    ) -> torch.Tensor:
        """(n, S, D) embedding from list sums of the slot features (n, S, C), sums of the order features
        over the top half of the list (n, S, K) and the first item's (n, S, K), and list lengths (S,)."""
        K = first.shape[-1]
        n = length.to(sums.dtype).clamp(min=1.0)[None, :, None]
        m = sums[..., :K] / n
        sq = sums[..., K : 2 * K] / n
        n_half = torch.div(length + 1, 2, rounding_mode="floor").to(sums.dtype).clamp(min=1.0)[None, :, None]
        parts = [m, (sq - m * m).clamp(min=0).sqrt(), half / n_half, first]
        if self.kind == "heads+content":
            parts.append(sums[..., 2 * K :] / n)
        return torch.cat(parts, dim=-1)
