"""The planted truth under truth/ (contracts.TRUTH_*): true head probabilities and truth.json.

`write_probs` writes the true probabilities of every small cell (TRUTH_SMALL) and every big row
(TRUTH_BIG); the pools (TRUTH_POOLS) come from the policy; `truth_record` is the content of TRUTH_JSON:
the planted value weights, noise scale, label thresholds, session and pool rules, behaviour parameters
and sizes. See (docs/data.md, "The synthetic world").

Readers of a truth/ folder go through `read_truth` (TRUTH_JSON, its world filled in), `planted_weights`
(w*) and `truth_world` (the users, videos and behaviour parameters it was generated from).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmrec.contracts import HEADS, PROB_COLUMNS, TRUTH_JSON
from vmrec.synthetic.behaviour import (
    LABEL_THRESHOLDS,
    LOOP_DURATION_POWER,
    LOOP_SCALE,
    LOOP_SHAPE,
    SKIP_MEDIAN_MS,
    SKIP_SIGMA,
    SKIP_ZERO,
    WATCH_DURATION_SLOPE,
    WATCH_MEDIAN_MS,
    WATCH_SIGMA,
)
from vmrec.synthetic.clock import STRAY_RANGE
from vmrec.synthetic.policy import (
    POOL_FACTOR,
    POOL_MIN,
    SESSION_END_GAP_MS,
    SESSION_LOG_MEDIAN,
    SESSION_LOG_SIGMA,
    SESSION_MAX,
    SESSION_MIN_START_GAP_MS,
    STRAY_SESSION_RATE,
    BigLog,
)
from vmrec.synthetic.small_block import SmallLog
from vmrec.synthetic.world import (
    AFF_STD,
    LATENT_DIM,
    REF_DURATION_MS,
    SMALL_USER_ACT,
    SMALL_VIDEO_POP_POWER,
    SMALL_VIDEO_SHORT,
    ScaleSpec,
    World,
    make_world,
)

GENERATOR_VERSION = "1.2"


def read_truth(truth_dir: str | Path) -> dict:
    """TRUTH_JSON of a synthetic truth/ folder, with "world" set (files from before the platform world
    have none: simple)."""
    path = Path(truth_dir) / TRUTH_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; expected the truth/ folder of a synthetic KuaiRec "
                                f"(vmrec.synthetic.generate), which the real release does not have")
    truth = json.loads(path.read_text(encoding="utf-8"))
    truth.setdefault("world", "simple")
    return truth


def planted_weights(truth_dir: str | Path) -> np.ndarray:
    """The planted w* of a truth/ folder, in HEADS order."""
    return np.array([read_truth(truth_dir)["value_weights"][h] for h in HEADS], dtype=float)


def truth_world(truth_dir: str | Path) -> World:
    """The World a truth/ folder was generated from (`make_world` of its scale, seed and world)."""
    truth = read_truth(truth_dir)
    return make_world(truth["scale"], int(truth["seed"]), truth["world"])


def write_probs(path: Path, cols: dict, probs: np.ndarray, extra: dict | None = None) -> None:
    """`cols`, then PROB_COLUMNS from `probs`, then the `extra` columns."""
    cols = dict(cols)
    for j, c in enumerate(PROB_COLUMNS):
        cols[c] = pa.array(probs[:, j].astype(np.float32))
    cols.update(extra or {})
    pq.write_table(pa.table(cols), path)


def interaction_stats(play: np.ndarray, d: np.ndarray, probs: np.ndarray) -> dict:
    """Distribution summary of views: watch_ratio buckets (those of the release:
    docs/data.md, "The release's files"), medians, head rates."""
    r = play / d
    out = {
        "rows": int(len(play)),
        "median_video_duration_s": float(np.median(d) / 1000),
        "median_play_duration_s": float(np.median(play) / 1000),
        "median_watch_ratio": float(np.median(r)),
        "watch_ratio_buckets": {
            "<0.25": float(np.mean(r < 0.25)), "0.25-0.5": float(np.mean((r >= 0.25) & (r < 0.5))),
            "0.5-1": float(np.mean((r >= 0.5) & (r < 1))), "1-2": float(np.mean((r >= 1) & (r <= 2))),
            ">2": float(np.mean(r > 2)), ">5": float(np.mean(r > 5)),
        },
        "mean_true_prob": {c: float(probs[:, j].mean()) for j, c in enumerate(PROB_COLUMNS)},
    }
    out["watch_ratio_buckets"] = {k: round(v, 4) for k, v in out["watch_ratio_buckets"].items()}
    return out


def truth_record(spec: ScaleSpec, scale: str, seed: int, value_weights: dict, noise_scale: float,
                world: World, big: BigLog, small: SmallLog, sizes: dict) -> dict:
    n_sess = len(big.sess_user)
    return {
        "generator_version": GENERATOR_VERSION,
        "scale": scale,
        "seed": int(seed),
        "value_weights": {h: float(value_weights[h]) for h in HEADS},
        "noise_scale": float(noise_scale),
        "label_thresholds": dict(LABEL_THRESHOLDS),
        "heads": list(HEADS),
        "prob_columns": list(PROB_COLUMNS),
        "policy": {
            "score": "sum_k value_weights[k] * p_k(u, v, session start) + noise_scale * Gumbel(0, 1); "
                     "the top L candidates are shown in rank order (Plackett-Luce with utilities "
                     "w.p / noise_scale)",
            "pool_size": f"min(max({POOL_MIN}, {POOL_FACTOR} * L), eligible videos), L = planned length",
            "pool_draw": "videos drawn with replacement with probability proportional to popularity; "
                         "repeats and excluded videos dropped; the first pool_size distinct kept",
            "pool_excludes": "small-block videos for small-block users (no small pair appears in big)",
            "pool_probs": "p at the session start hour with the video's base duration (rows use the "
                          "row's jittered video_duration)",
        },
        "sessions": {
            "length": f"min(1 + floor(lognormal(log {np.exp(SESSION_LOG_MEDIAN):.0f}, "
                      f"{SESSION_LOG_SIGMA})), {SESSION_MAX})",
            "start": "a day in the three big windows, hour from an evening-peaked profile; "
                     f"fraction {STRAY_SESSION_RATE} anywhere in {STRAY_RANGE[0]}..{STRAY_RANGE[1]}",
            "min_start_gap_minutes": SESSION_MIN_START_GAP_MS / 60_000,
            "end_gap_minutes": SESSION_END_GAP_MS / 60_000,
            "truncation": "views that would start later than end_gap_minutes before the user's next "
                          "session are not logged: the shown list is then a prefix of the ranking",
            "view_gap": "next view starts play_duration + 1 s + Gamma(2, 1.5 s) after the previous",
            "context": "the behaviour of every view in a session uses the local hour of the session start",
            "n_sessions": int(n_sess),
            "n_logged_views": int(big.sess_len.sum()),
        },
        "pools": {
            "stored_sessions": int(big.pool_sessions_stored),
            "all_sessions_stored": bool(big.pool_sessions_stored == n_sess),
            "selection": "all sessions" if big.pool_sessions_stored == n_sess
            else "uniform random subset of sessions (generator rng)",
        },
        "propensities": {
            "columns": "p_pool, p_list, propensity on every pools.parquet and big_probs.parquet row",
            "p_list": ("P(ranked into the top L | in the pool), L the planned length: Monte Carlo over "
                       f"{spec.propensity_draws} fresh Gumbel draws of the pool plus the policy's own "
                       f"(standard error <= {0.5 / np.sqrt(spec.propensity_draws + 1):.3f}; a shown "
                       f"candidate's is >= {1 / (spec.propensity_draws + 1):.4f}); sums to L over a pool"
                       if spec.propensity_draws else
                       "P(ranked into the top L | in the pool), L the planned length: mean-field threshold "
                       "approximation 1 - exp(-exp(u - tau)), tau such that it sums to L over a pool "
                       "(against a 256-draw Monte Carlo at small scale: mean absolute difference 0.019)"),
            "p_pool": "P(in the pool): 1 - exp(-q_v t), q the pool-draw distribution (popularity over "
                      "the eligible videos), t such that the pool holds pool_size videos in expectation "
                      "(Poissonised draws); null in the platform world",
            "propensity": "p_pool * p_list",
            "draws": spec.propensity_draws,
        },
        "behaviour": {
            "skip": {"median_ms": SKIP_MEDIAN_MS, "sigma": SKIP_SIGMA, "zero_prob": SKIP_ZERO},
            "watch": {"median_ms_at_ref": WATCH_MEDIAN_MS, "sigma": WATCH_SIGMA,
                      "duration_slope": WATCH_DURATION_SLOPE, "ref_duration_ms": REF_DURATION_MS},
            "loop": {"lomax_shape": LOOP_SHAPE, "lomax_scale_at_ref": LOOP_SCALE,
                     "lomax_scale_duration_power": -LOOP_DURATION_POWER},
            "latent_dim": LATENT_DIM,
            "latent_affinity_std": {"skip_logit": AFF_STD[0], "watch_log_mean": AFF_STD[1],
                                    "loop_logit": AFF_STD[2]},
            "small_block": "videos drawn without replacement with prob ~ popularity ** "
                           f"{SMALL_VIDEO_POP_POWER}"
                           f" * (d / {REF_DURATION_MS:.0f} ms) ** {-SMALL_VIDEO_SHORT}; users with prob ~ "
                           f"exp({SMALL_USER_ACT} * activity) (the release's small block: popular videos, "
                           "active users)",
            "play_rounding": "floor",
        },
        "sizes": {
            "n_users": spec.n_users, "n_videos": spec.n_videos,
            "n_small_users": spec.n_small_users, "n_small_videos": spec.n_small_videos,
            "small_rows": int(len(small.user)), **sizes,
        },
        "small_users": world.small_users.tolist() if spec.n_small_users <= 2000 else None,
        "item_daily": "daily counts drawn from each video's platform-wide true rates (official play "
                      "definitions) and popularity; all uploads precede 2020-07-05",
        "spec": asdict(spec),
    }
