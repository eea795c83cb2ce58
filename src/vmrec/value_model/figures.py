"""Figures of the value-model stage (PNG): loss slices around the optimum, estimated vs planted weights,
the recovery study."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from vmrec.contracts import HEADS  # noqa: E402
from vmrec.io import atomic_path  # noqa: E402
from vmrec.value_model.estimate import unit  # noqa: E402


def _save(fig, path: str | Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def loss_slices(
    loss_of_W,
    w_hat: np.ndarray,
    scale: float,
    path: str | Path,
    half_width_deg: float = 15.0,
    n: int = 11,
    w_star: np.ndarray | None = None,
) -> np.ndarray:
    """Loss over 2-D slices of the sphere through the optimum: pairs of orthonormal tangent directions,
    rotations up to +-half_width_deg, the scale fixed at its estimate. `loss_of_W` maps weight vectors
    (m, K) to their losses (m,) in one batch. Returns the grids (3, n, n)."""
    u = unit(w_hat)
    K = len(u)
    basis = np.linalg.svd(np.eye(K) - np.outer(u, u))[0][:, : K - 1]
    ang = np.radians(np.linspace(-half_width_deg, half_width_deg, n))
    pairs = [(0, 1), (0, 2), (1, 2)]
    grids = np.zeros((len(pairs), n, n))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.6))
    for k, (i, j) in enumerate(pairs):
        X, Y = np.meshgrid(ang, ang)  # rows: y, columns: x
        V = u[None] + np.tan(X.ravel())[:, None] * basis[:, i] + np.tan(Y.ravel())[:, None] * basis[:, j]
        V = scale * V / np.linalg.norm(V, axis=1, keepdims=True)
        grids[k] = np.asarray(loss_of_W(V)).reshape(n, n)
        ax = axes[k]
        # log10 colours: the loss grows quadratically, so linear levels hide the valley around the optimum
        z = np.log10(np.maximum(grids[k], 1e-12))
        im = ax.contourf(np.degrees(ang), np.degrees(ang), z, levels=15, cmap="viridis")
        ax.plot(0, 0, "r+", ms=10, label="estimate")
        if w_star is not None:
            s = unit(w_star)
            px = np.degrees(np.arctan2(s @ basis[:, i], s @ u))
            py = np.degrees(np.arctan2(s @ basis[:, j], s @ u))
            if max(abs(px), abs(py)) <= half_width_deg:
                ax.plot(px, py, "wx", ms=9, label="planted")
            else:
                ax.set_title(f"planted w* outside the window ({px:.0f}, {py:.0f} deg)", fontsize=8)
        ax.set_xlim(-half_width_deg, half_width_deg)
        ax.set_ylim(-half_width_deg, half_width_deg)
        ax.set_xlabel(f"tangent {i + 1} (deg)")
        ax.set_ylabel(f"tangent {j + 1} (deg)")
        fig.colorbar(im, ax=ax, label="log10 loss")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(
        "Embedding-matching loss around the optimum: rotations of w along tangent directions of the sphere "
        f"(scale fixed at {scale:.3g})",
        fontsize=10,
    )
    _save(fig, path)
    return grids


def weights_plot(
    estimates: dict[str, tuple[np.ndarray, np.ndarray | None]],
    path: str | Path,
    w_star: np.ndarray | None = None,
    title: str = "Value-model weights (unit vector, 95% intervals)",
) -> None:
    """Unit weights per head for each estimator (with 95% intervals) and the planted w* when known."""
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    x = np.arange(len(HEADS))
    n = len(estimates)
    for k, (name, (w, iv)) in enumerate(estimates.items()):
        off = (k - (n - 1) / 2) * min(0.2, 0.8 / n)
        yerr = None if iv is None else np.abs(np.stack([w - iv[:, 0], iv[:, 1] - w]))
        ax.errorbar(x + off, w, yerr=yerr, fmt="o", capsize=3, label=name)
    if w_star is not None:
        ax.scatter(x, unit(w_star), marker="_", s=900, color="k", lw=1.5, label="planted w*", zorder=1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xticks(x, HEADS)
    ax.set_ylabel("weight (unit vector)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


RECOVERY_TITLES = {"embedding": "embedding matching, pools known",
                   "plackett_luce": "Plackett-Luce, pools known",
                   "marginal_pl_pools_unknown": "pool-marginal PL, pools unknown"}
"""Panel titles of the recovery figure per method of recovery.csv."""


def recovery_plot(table: pd.DataFrame, path: str | Path) -> None:
    """Angle error per planted case and noise level, one panel per method (titled with its sessions per
    run), and the 95% interval coverage of w* (fraction of heads, mean over cases) per method and noise
    level."""
    methods = list(table["method"].unique())
    fig, axes = plt.subplots(1, len(methods) + 1, figsize=(4.3 * (len(methods) + 1), 3.8), squeeze=False)
    ymax = float(table["angle_deg"].max()) * 1.1 + 1e-9
    cases = sorted(table["case"].unique())
    labels = []
    for c in cases:
        row = table[table["case"] == c].iloc[0]
        v = [f"{row[f'w_star_{h}']:.2f}" for h in HEADS]
        labels.append(f"{c}\n{v[0]} {v[1]}\n{v[2]} {v[3]}")
    for ax, method in zip(axes[0][:-1], methods, strict=True):
        sub = table[table["method"] == method]
        for noise, grp in sub.groupby("noise_scale"):
            ax.plot(grp["case"], grp["angle_deg"], "o-", label=f"noise {noise:g}")
        title = RECOVERY_TITLES.get(method, method.replace("_", "-"))
        if "n_sessions" in sub:
            title += f"\n{int(sub['n_sessions'].max()):,} sessions per run"
        ax.set_title(title, fontsize=10)
        heads = "/".join(h.removeprefix("y_") for h in HEADS)
        ax.set_xlabel(f"planted case (unit w*: {heads})", fontsize=8)
        ax.set_xticks(cases, labels, fontsize=7)
        ax.set_ylim(0, ymax)
        ax.set_ylabel("angle error to w* (deg)")
        ax.legend(fontsize=8)
    ax = axes[0][-1]
    cov = table.groupby(["noise_scale", "method"])["coverage"].mean().unstack("method")
    cov.plot.bar(ax=ax, rot=0)
    ax.axhline(0.95, color="k", ls="--", lw=0.8, label="nominal 0.95")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("logging noise scale")
    ax.set_ylabel("95% interval coverage of w* (heads)")
    ax.set_title("interval coverage")
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Recovery of planted value weights from lists re-drawn under each planted w* (true heads)")
    _save(fig, path)
