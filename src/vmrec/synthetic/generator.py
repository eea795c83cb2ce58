"""`generate`: the whole synthetic KuaiRec 2.0, written atomically.

Draws the world, the big log (logging policy) and the small block from independent random streams
(one SeedSequence spawn each), then writes the seven CSVs and truth/ into a temporary folder and moves
them into place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmrec.contracts import (
    HEADS,
    RAW_SUBDIR,
    TRUTH_BIG,
    TRUTH_JSON,
    TRUTH_PLATFORM_POOLS,
    TRUTH_POOLS,
    TRUTH_SMALL,
)
from vmrec.synthetic.platform import (
    build_platform_world,
    item_daily_columns,
    platform_pools_table,
    platform_truth,
    simulate_platform_big,
)
from vmrec.synthetic.policy import simulate_big
from vmrec.synthetic.side_files import write_side_files
from vmrec.synthetic.small_block import simulate_small
from vmrec.synthetic.truth import interaction_stats, truth_record, write_probs
from vmrec.synthetic.world import SCALES, WORLDS, build_world
from vmrec.synthetic.writers import write_big, write_interactions

log = logging.getLogger("vmrec.synthetic")


def _as_weight_vector(value_weights: dict) -> np.ndarray:
    missing = [h for h in HEADS if h not in value_weights]
    extra = [k for k in value_weights if k not in HEADS]
    if missing or extra:
        raise ValueError(f"value_weights must have exactly the keys {list(HEADS)}; missing {missing}, "
                         f"unexpected {extra}")
    return np.array([float(value_weights[h]) for h in HEADS])


PROPENSITY_STREAM = 18
"""Second seed word of the generator stream of the planted propensities' Monte Carlo draws."""


def generate(root: Path, scale: str, seed: int, value_weights: dict, noise_scale: float,
             world: str = "simple", threads: int = 1) -> None:
    """Write a synthetic KuaiRec 2.0 to root/"KuaiRec 2.0/data" (7 CSVs) and root/"truth" (planted truth).

    `world`: "simple" (the policy ranks on the truth, pools by popularity) or "platform"
    (synthetic.platform: the policy's own heads, personalised retrieval, logged daily statistics,
    nonlinear affinity, position and fatigue). `threads`: threads for the platform world's retrieval and
    pool probabilities (the simple world runs on one).

    Deterministic: the same arguments give byte-identical files, whatever `threads`. Atomic: everything
    is written into a temporary folder under `root` and renamed into place at the end.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}; found {scale!r}")
    if not noise_scale > 0:
        raise ValueError(f"noise_scale must be > 0; found {noise_scale!r}")
    if world not in WORLDS:
        raise ValueError(f"world must be one of {list(WORLDS)}; found {world!r}")
    weights = _as_weight_vector(value_weights)
    spec = SCALES[scale]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ss = np.random.SeedSequence(seed)
    r_world, r_big, r_small, r_dup, r_users, r_items, r_text, r_social = (np.random.default_rng(s)
                                                                         for s in ss.spawn(8))
    r_prop = np.random.default_rng([seed, PROPENSITY_STREAM])  # its own stream: the logs do not depend on it
    kind, world = world, build_world(spec, r_world)
    plog = None
    if kind == "platform":
        world = build_platform_world(world, spec, np.random.default_rng(ss.spawn(1)[0]))
        plog = simulate_platform_big(world, spec, weights, noise_scale, r_big, r_prop, threads=threads)
        big = plog.big
    else:
        big = simulate_big(world, spec, weights, noise_scale, r_big, r_prop)
    small = simulate_small(world, spec, r_small)

    tmp = Path(tempfile.mkdtemp(prefix=".synthesize-", dir=root))
    try:
        data = tmp / RAW_SUBDIR
        truth = tmp / "truth"
        data.mkdir(parents=True)
        truth.mkdir()
        sizes, big_stats = write_big(data / "big_matrix.csv", truth / TRUTH_BIG, big, r_dup)
        small_stats = interaction_stats(small.play, small.d, small.probs)
        small_stats["missing_time"] = round(float(1 - small.has_time.mean()), 4)
        log.info("big_matrix: %s", json.dumps(big_stats))
        log.info("small_matrix: %s", json.dumps(small_stats))
        write_interactions(data / "small_matrix.csv", small.user, small.video, small.play, small.d, small.ts,
                           small.has_time, None, small=True)
        write_probs(truth / TRUTH_SMALL,
                    {"user_id": pa.array(small.user), "video_id": pa.array(small.video)}, small.probs)
        pq.write_table(big.pools, truth / TRUTH_POOLS)
        daily = None
        if plog is not None:
            pq.write_table(platform_pools_table(plog), truth / TRUTH_PLATFORM_POOLS)
            daily = item_daily_columns(world, big, small, r_items)
        write_side_files(data, world, spec, social=r_social, users=r_users, items=r_items, text=r_text,
                         item_daily=daily)
        truth_json = truth_record(spec, scale, seed, value_weights, noise_scale, world, big, small, sizes)
        if plog is not None:
            truth_json = platform_truth(truth_json, world, plog)
        truth_json["stats"] = {"big_matrix": big_stats, "small_matrix": small_stats}
        (truth / TRUTH_JSON).write_text(json.dumps(truth_json, indent=2) + "\n", encoding="utf-8")
        # move into place
        for rel in (RAW_SUBDIR, "truth"):
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp / rel, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("synthetic %s written to %s in %.1f s", scale, root, time.perf_counter() - t0)
