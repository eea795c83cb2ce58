"""The edge table: leakage rules, split, completeness, item_features consistency.

Most tests run on small hand-made tables (tests/_feature_tables.py) so each leakage rule can be probed
by editing one input; the last ones run on the tiny synthetic KuaiRec (tiny_features fixture).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from _feature_tables import make_tables

from vmrec.contracts import EDGE_ID_COLUMNS, FEATURE_GROUPS, HEADS
from vmrec.features import build_edge_table, feature_columns, item_features_for

LABELS = {"complete_ratio": 0.9, "long_seconds": 18.0, "rewatch_ratio": 2.0, "neg_seconds": 3.0}
SPLIT = {"train_frac": 0.7, "val_frac": 0.15}


def build(tables: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    build_edge_table(tables, out / "edges.parquet", out / "columns.csv", out / "items.parquet", LABELS, SPLIT)
    return (pd.read_parquet(out / "edges.parquet"), pd.read_parquet(out / "items.parquet"),
            pd.read_csv(out / "columns.csv"))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("feat")
    tables = make_tables(root / "tables")
    edges, items, columns = build(tables, root / "out")
    return tables, edges, items, columns


def edit_table(src: Path, dst: Path, stem: str, fn) -> Path:
    """Copy the tables folder `src` to `dst`, replacing table `stem` with fn(table)."""
    shutil.copytree(src, dst)
    t = pq.read_table(src / f"{stem}.parquet")
    pq.write_table(fn(t), dst / f"{stem}.parquet")
    return dst


def fcols(df: pd.DataFrame) -> list[str]:
    return feature_columns(df)


# --- shape and contract -----------------------------------------------------------------------------
def test_one_row_per_view_in_table_order(base):
    tables, edges, _, _ = base
    big = pq.read_table(tables / "big_matrix.parquet").to_pandas()
    small = pq.read_table(tables / "small_matrix.parquet").to_pandas()
    assert len(edges) == len(big) + len(small)
    assert edges["edge_id"].tolist() == list(range(len(edges)))
    assert (edges["source"] == np.repeat(["big", "small"], [len(big), len(small)])).all()
    assert edges["csv_row"].tolist() == big["csv_row"].tolist() + small["csv_row"].tolist()
    assert edges["video_id"].tolist() == big["video_id"].tolist() + small["video_id"].tolist()


def test_columns_types_and_groups(base):
    _, edges, _, columns = base
    ids = list(EDGE_ID_COLUMNS)
    assert list(edges.columns[: len(ids) + len(HEADS)]) == ids + list(HEADS)
    feats = fcols(edges)
    assert len(feats) == len(edges.columns) - len(ids) - len(HEADS)
    assert all(edges[h].dtype == np.int8 for h in HEADS)
    assert all(edges[c].dtype == np.float32 for c in feats)
    assert not edges[feats].isna().any().any()
    assert np.isfinite(edges[feats].to_numpy()).all()
    # groups in order ctx, user, item, each feature in exactly one
    groups = [next(g for g in FEATURE_GROUPS if c.startswith(g)) for c in feats]
    assert groups == sorted(groups, key=FEATURE_GROUPS.index)
    assert set(groups) == set(FEATURE_GROUPS)
    # columns.csv describes exactly the table's columns, in order
    assert columns["name"].tolist() == list(edges.columns)
    assert columns["description"].notna().all()
    assert columns.set_index("name").loc[feats, "group"].tolist() == groups


def test_every_f_missing_flags_a_feature(base):
    _, edges, _, _ = base
    feats = set(fcols(edges))
    for c in feats:
        if c.endswith("_missing") and c not in ("f_ctx_time_missing", "f_user_missing"):
            assert set(np.unique(edges[c])) <= {0.0, 1.0}, c


# --- split -------------------------------------------------------------------------------------------
def test_split_fractions_and_time_order(base):
    _, edges, _, _ = base
    big = edges[edges["source"] == "big"]
    frac = big["split"].value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.01 and abs(frac["val"] - 0.15) < 0.01
    ts = {s: big.loc[big["split"] == s, "timestamp"] for s in ("train", "val", "test")}
    assert ts["train"].max() < ts["val"].min() and ts["val"].max() < ts["test"].min()
    assert (edges.loc[edges["source"] == "small", "split"] == "small").all()
    assert set(edges["split"]) == {"train", "val", "test", "small"}


# --- labels ------------------------------------------------------------------------------------------
def test_labels_follow_play_and_duration(base):
    tables, edges, _, _ = base
    big = pq.read_table(tables / "big_matrix.parquet").to_pandas()
    e = edges[edges["source"] == "big"]
    p, d = big["play_duration"].to_numpy(), big["video_duration"].to_numpy()
    assert (e["y_complete"].to_numpy() == (p >= 0.9 * d)).all()
    assert (e["y_neg"].to_numpy() == (p < np.minimum(3000, d))).all()


# --- leakage -----------------------------------------------------------------------------------------
def test_features_ignore_own_play_duration(base, tmp_path):
    """Shuffling play_duration and watch_ratio changes the labels and none of the features."""
    tables, edges, items, _ = base

    def shuffle(t: pa.Table) -> pa.Table:
        rng = np.random.default_rng(1)
        perm = pa.array(rng.permutation(len(t)))
        for c in ("play_duration", "watch_ratio"):
            t = t.set_column(t.schema.get_field_index(c), c, t.column(c).take(perm))
        return t

    shutil.copytree(tables, tmp_path / "t")
    for stem in ("big_matrix", "small_matrix"):
        pq.write_table(shuffle(pq.read_table(tables / f"{stem}.parquet")), tmp_path / "t" / f"{stem}.parquet")
    edges2, items2, _ = build(tmp_path / "t", tmp_path / "o")
    feats = fcols(edges)
    pd.testing.assert_frame_equal(edges[feats], edges2[feats])
    pd.testing.assert_frame_equal(items, items2)
    assert any((edges[h] != edges2[h]).any() for h in HEADS)


def _daily_feature_rows(edges: pd.DataFrame, video: int, date: int) -> pd.Series:
    return (edges["video_id"] == video) & (edges["date"] == date)


def test_item_daily_stats_use_only_earlier_days(base, tmp_path):
    """Changing a video's daily row of day D leaves views on D unchanged and changes views on D+1."""
    tables, edges, _, _ = base
    daily = pq.read_table(tables / "item_daily_features.parquet").to_pandas()
    # a (video, date) with a daily row, views on that date and views on the next date with that row latest
    e = edges[edges["source"] == "big"]
    pairs = set(zip(daily["video_id"], daily["date"], strict=True))
    cand = [(v, d) for v, d in zip(e["video_id"], e["date"], strict=True) if (v, d) in pairs]
    nxt = {(v, d) for v, d in zip(e["video_id"], e["date"], strict=True)}
    video, date = next((v, d) for v, d in cand if (v, d + 1) in nxt)

    def bump(t: pa.Table) -> pa.Table:
        hit = pc.and_(pc.equal(t.column("video_id"), video), pc.equal(t.column("date"), date))
        for c in ("show_cnt", "play_cnt", "complete_play_cnt", "like_cnt", "short_time_play_cnt"):
            i = t.schema.get_field_index(c)
            t = t.set_column(i, c, pc.if_else(hit, pc.multiply(t.column(c), 7).cast(pa.int64()),
                                              t.column(c)))
        return t

    edges2, _, _ = build(edit_table(tables, tmp_path / "t", "item_daily_features", bump), tmp_path / "o")
    feats = fcols(edges)
    same_day = _daily_feature_rows(edges, video, date)
    next_day = _daily_feature_rows(edges, video, date + 1)
    assert same_day.any() and next_day.any()
    later = (edges["video_id"] == video) & (edges["date"] > date)  # cumulative stats reach beyond D+1
    pd.testing.assert_frame_equal(edges.loc[~later, feats], edges2.loc[~later, feats])
    assert same_day.sum() > 0 and not (later & same_day).any()
    col = "f_item_prev_log_play_cnt"
    assert (edges.loc[next_day, col] != edges2.loc[next_day, col]).all()


def test_context_uses_timestamps_only(base, tmp_path):
    """Changing everything of a view but its user and timestamp leaves f_ctx_* unchanged."""
    tables, edges, _, _ = base

    def scramble(t: pa.Table) -> pa.Table:
        rng = np.random.default_rng(5)
        for c in ("play_duration", "video_duration", "video_id"):
            i = t.schema.get_field_index(c)
            t = t.set_column(i, c, pa.array(rng.permutation(t.column(c).to_numpy()), t.schema.field(c).type))
        i = t.schema.get_field_index("date")
        return t.set_column(i, "date", pc.subtract(t.column("date"), 1))  # 20200706 -> 20200705 etc.

    edges2, _, _ = build(edit_table(tables, tmp_path / "t", "big_matrix", scramble), tmp_path / "o")
    ctx = feature_columns(edges, groups=("f_ctx_",))
    pd.testing.assert_frame_equal(edges[ctx], edges2[ctx])
    assert (edges["date"] != edges2["date"]).any()
    ctx = feature_columns(edges, groups=("f_ctx_",))
    assert {"f_ctx_hour_sin", "f_ctx_log_gap", "f_ctx_log_views_so_far"} <= set(ctx)
    small = edges[edges["source"] == "small"]
    undated = small["timestamp"].isna()
    assert undated.any()
    assert (small.loc[undated, "f_ctx_time_missing"] == 1).all()
    assert (small.loc[~undated, "f_ctx_time_missing"] == 0).all()
    # first view of each user within a source has no previous gap
    first = edges[edges["timestamp"].notna()].sort_values(["source", "user_id", "timestamp", "edge_id"])
    first = first.groupby(["source", "user_id"]).head(1)
    assert (first["f_ctx_log_gap_missing"] == 1).all() and (first["f_ctx_log_views_so_far"] == 0).all()


def test_deterministic(base, tmp_path):
    tables, edges, items, columns = base
    edges2, items2, columns2 = build(tables, tmp_path)
    pd.testing.assert_frame_equal(edges, edges2)
    pd.testing.assert_frame_equal(items, items2)
    pd.testing.assert_frame_equal(columns, columns2)


# --- item features table ---------------------------------------------------------------------------
def test_item_features_match_edges(base):
    _, edges, items, _ = base
    icols = feature_columns(edges, groups=("f_item_",))
    assert feature_columns(items) == icols
    got = item_features_for(items, edges["video_id"].to_numpy(), edges["date"].to_numpy())
    np.testing.assert_array_equal(got, edges[icols].to_numpy())
    one = item_features_for(items, int(edges["video_id"].iloc[3]), int(edges["date"].iloc[3]))
    np.testing.assert_array_equal(one, edges[icols].iloc[3].to_numpy())
    # a full grid: every video x every date
    assert len(items) == items["video_id"].nunique() * items["date"].nunique()
    with pytest.raises(KeyError, match="video_id=99999"):
        item_features_for(items, 99999, int(edges["date"].iloc[0]))


# --- the tiny synthetic KuaiRec through ingest ------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tiny_tables, tiny_features):
    edges = pd.read_parquet(tiny_features / "edges.parquet")
    items = pd.read_parquet(tiny_features / "item_features.parquet")
    columns = pd.read_csv(tiny_features / "columns.csv")
    return tiny_tables, edges, items, columns


def test_tiny_edge_table_is_complete(tiny):
    tables, edges, items, columns = tiny
    n_big = pq.read_metadata(tables / "big_matrix.parquet").num_rows
    n_small = pq.read_metadata(tables / "small_matrix.parquet").num_rows
    assert len(edges) == n_big + n_small
    assert columns["name"].tolist() == list(edges.columns)
    feats = feature_columns(edges)
    assert not edges[feats].isna().any().any()
    assert (edges.loc[edges["source"] == "small", "split"] == "small").all()
    big = edges[edges["source"] == "big"]
    frac = big["split"].value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.02 and abs(frac["val"] - 0.15) < 0.02
    ts = {s: big.loc[big["split"] == s, "timestamp"] for s in ("train", "val", "test")}
    assert ts["train"].max() < ts["val"].min() and ts["val"].max() < ts["test"].min()
    for h in HEADS:  # every head has both classes on the data the models learn from
        assert 0 < big[h].mean() < 1, h


def test_tiny_item_features_match_edges(tiny):
    _, edges, items, _ = tiny
    icols = feature_columns(edges, groups=("f_item_",))
    got = item_features_for(items, edges["video_id"].to_numpy(), edges["date"].to_numpy())
    np.testing.assert_array_equal(got, edges[icols].to_numpy())
    # daily statistics exist for most views (the tiny data has daily rows before most view dates)
    assert edges["f_item_daily_missing"].mean() < 0.5


def test_context_features_do_not_depend_on_row_order():
    """Rows stored by (user, time) and the same rows shuffled get the same per-view context features."""
    from vmrec.features import context_features

    rng = np.random.default_rng(3)
    user = rng.integers(0, 5, 300)
    ts = 1.5939e9 + rng.uniform(0, 5 * 86400, 300)
    ts[::50] = np.nan  # views without time
    shuffled = context_features(user, ts, "small")
    order = np.lexsort((ts, user))
    stored = context_features(user[order], ts[order], "small")
    for c in shuffled.cols:
        np.testing.assert_array_equal(shuffled.cols[c][order], stored.cols[c], err_msg=c)
    # views so far counts the user's earlier timed views
    timed = ~np.isnan(ts)
    i = int(np.flatnonzero(timed)[7])
    earlier = int(((user == user[i]) & timed & (ts < ts[i])).sum())
    assert shuffled.cols["f_ctx_log_views_so_far"][i] == np.float32(np.log1p(earlier))


def test_bad_input_errors_name_table_and_column(base, tmp_path):
    tables, _, _, _ = base

    def bad_date(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("date")
        return t.set_column(i, "date", pa.array(np.full(len(t), 20201340, np.int32)))

    with pytest.raises(ValueError, match=r"item_daily_features\.date: expected YYYYMMDD.*20201340"):
        build(edit_table(tables, tmp_path / "a", "item_daily_features", bad_date), tmp_path / "oa")

    def null_user(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("user_id")
        return t.set_column(i, "user_id", pa.array([None] * len(t), pa.int32()))

    with pytest.raises(ValueError, match=r"big_matrix\.user_id: \d+ null"):
        build(edit_table(tables, tmp_path / "b", "big_matrix", null_user), tmp_path / "ob")
    with pytest.raises(FileNotFoundError, match="social_network"):
        shutil.copytree(tables, tmp_path / "c")
        (tmp_path / "c" / "social_network.parquet").unlink()
        build(tmp_path / "c", tmp_path / "oc")
    assert not (tmp_path / "oc" / "edges.parquet").exists()
