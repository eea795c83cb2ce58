"""Session embeddings: a list of shown candidates -> one vector.

`heads`:          mean and spread (standard deviation) of the four head probabilities over the list, and
                  the heads of the first-ranked item (the order carries information about the scale of w);
`heads+content`:  the same plus the mean content features (tag shares, log duration, log popularity).
"""

from __future__ import annotations

import torch

EMBEDDINGS = ("heads", "heads+content")


class ListEmbedder:
    """Callable (bucket, slots) -> (b, D): embeds lists given as pool slots (-1 padding) of a bucket."""

    def __init__(self, kind: str = "heads") -> None:
        if kind not in EMBEDDINGS:
            raise ValueError(f"value_model.embedding must be one of {EMBEDDINGS}; found {kind!r}")
        self.kind = kind

    def __call__(self, bucket: dict, slots: torch.Tensor) -> torch.Tensor:
        mask = (slots >= 0).to(torch.float32)  # (b, L)
        idx = slots.clamp(min=0)
        n = mask.sum(1, keepdim=True).clamp(min=1.0)
        P = torch.gather(bucket["P"], 1, idx[..., None].expand(-1, -1, bucket["P"].shape[2]))  # (b, L, K)
        m = (P * mask[..., None]).sum(1) / n
        sq = (P * P * mask[..., None]).sum(1) / n
        parts = [m, (sq - m * m).clamp(min=0).sqrt(), P[:, 0]]
        if self.kind == "heads+content":
            C = bucket.get("content")
            if C is None:
                raise ValueError("embedding heads+content needs content features in the pools")
            Cl = torch.gather(C, 1, idx[..., None].expand(-1, -1, C.shape[2]))
            parts.append((Cl * mask[..., None]).sum(1) / n)
        return torch.cat(parts, dim=1)
