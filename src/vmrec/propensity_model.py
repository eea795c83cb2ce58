"""A propensity (exposure) model learned from the logs alone: P(a video is shown to a user in a session).

    python -m vmrec.propensity_model results/synthetic-small data/raw/synthetic-small/truth

(a run of the simple world, `make run ARGS="--configfile configs/simple.yaml"`: the calibration needs the
planted pool-inclusion propensity, which the platform world's truth does not have, docs/data.md)

**What it estimates.** pi(s, v): the probability that logged session s (its user, the local hour of its
start, its logged length n_s) shows video v, for every video of the catalogue (item_categories). Only what
the real release has is read: the sessions of big_matrix's views (sessions/sessions.parquet, train split),
item_daily_features, item_categories, user_features and small_matrix's pairs (which big never shows).

**How (a sampled-negatives classifier with a stated candidate distribution).** Positives: every view of up
to `max_sessions` logged train sessions. Negatives: per such session `negatives` (m) videos drawn
uniformly with replacement from the catalogue of V videos, shown or not (draws of a video from the user's
small-matrix block are discarded: big never shows those pairs, and pi is 0 there). Per session and video
the expected number of positives is pi(s, v) and that of negatives m / V, so a classifier of positive
against negative rows estimates the odds pi(x) / (m / V) at features x, whatever its class balance:

    pi(x) = (m / V) * P(pos | x) / (1 - P(pos | x))       (clipped to [0, 1]),

a calibrated probability of being shown in the session as far as the classifier is. The classifier is
scikit-learn's HistGradientBoostingClassifier (`classifier="hgb"`, default; stopped early on the log loss
of a random tenth of the rows, since the odds magnify an over-fitted probability) or a LogisticRegression
on the same features (`"logistic"`).

**Features** (`FEATURES`): the video's train views (log), its item_daily_features averaged over the days up
to the last train day (log shows, log plays, plays per show, complete and short-play rates), its duration
(log) and tags (count, first tag); the user's train views and sessions (log), activity degree, and the share
of train views that went to the user's small-matrix videos; the hour of the session start (sin, cos) and the
session's logged length (log); the user's lift for the video's tags (the user's share of train views
carrying them, smoothed toward the global share, over the global share). The user's counts leave out the
row's own session, so that a training row sees what a held-out session sees. The video's count does not:
it is the same on a video's positive and negative rows, whereas leaving a session's own views out of it
would give a video's positives a count its negatives lack, which a tree reads as the label.

**P(shown | in the pool).** The logs hold no pools. Under the value model's stated pool model (a pool of
M = max(`pool_size`, 2 n_s) distinct videos drawn in proportion to train views + 1: README,
"Value-model pools"), P(in the pool) is the Poissonised 1 - exp(-q_v t) (`pool_inclusion`), and
p_list_hat = min(1, pi / P(in the pool)).

**Calibration on synthetic data** (`run`, the CLI): against the planted `propensity` (p_pool x p_list) and
`p_list` of the candidates of held-out planted pools (sessions whose first view is in val or test:
vmrec.offpolicy.held_out_pools), on the shown and the passed-over candidates: a reliability table by
deciles of the prediction (mean predicted against mean planted), ECE (vmrec.offpolicy.calibration_error),
Spearman correlation, and the mean and standard deviation of log(predicted / planted) (rows with both
positive); and the propensity over every candidate weighted by 1 / planted p_pool (`CATALOGUE`: the means
over the catalogue, the population the model is fitted on). Fitting reads no file of truth/; only the
evaluation does. Measured: docs/models.md, "A propensity model from the logs".
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vmrec.contracts import N_TAGS
from vmrec.localtime import day_to_yyyymmdd, local_day, local_hour

log = logging.getLogger("vmrec")

VIEW_COLUMNS = ("session_id", "user_id", "video_id", "start_time")
"""Columns of the views the model is fitted on (rows of sessions/sessions.parquet)."""
DAILY_COLUMNS = ("video_id", "date", "video_duration", "show_cnt", "play_cnt", "complete_play_cnt",
                 "short_time_play_cnt")
FEATURES = ("v_log_views", "v_log_show", "v_log_play", "v_play_per_show", "v_complete_rate", "v_short_rate",
            "v_log_duration", "v_n_tags", "v_tag0", "u_log_views", "u_log_sessions", "u_active",
            "u_blocked_pop",
            "s_hour_sin", "s_hour_cos", "s_log_length", "ux_tag_lift")
CATEGORICAL = ("v_tag0", "u_active")
ACTIVE_LEVELS = ("high_active", "full_active", "middle_active")
"""user_active_degree levels, coded 0..2; anything else (UNKNOWN, null) is 3."""
TAG_PRIOR = 10.0
"""Pseudo-views of the global tag shares in a user's tag shares (ux_tag_lift)."""
CALIBRATION_COLUMNS = ("target", "where", "bin", "n", "mean_pred", "mean_true", "ece", "spearman",
                       "log_ratio_mean", "log_ratio_sd", "n_log")
"""The CLI's table: per target (propensity, p_list) and where (shown, not shown, all) one summary row
(bin = "all") and ten decile rows of the prediction (bin = 1..10; ece, spearman, log ratios empty)."""


# ---------------------------------------------------------------------------------------------- checks


def _require(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; found {list(df.columns)}")
    if len(df) == 0:
        raise ValueError(f"{what}: no rows")


def _finite(df: pd.DataFrame, columns, what: str) -> None:
    for c in columns:
        x = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        bad = ~np.isfinite(x)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what}: column {c!r} is not finite in {int(bad.sum())} row(s), first at row "
                             f"{i} ({df[c].iloc[i]!r})")


# ---------------------------------------------------------------------------------------------- tables


def _tag_matrix(item_categories: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(catalogue video ids sorted, (V, N_TAGS) 0/1 float32 matrix of their tags)."""
    what = "item_categories"
    _require(item_categories, ["video_id", "feat"], what)
    vid = item_categories["video_id"].to_numpy(np.int64)
    if len(np.unique(vid)) != len(vid):
        raise ValueError(f"{what}: video_id is not unique")
    order = np.argsort(vid, kind="stable")
    tags = np.zeros((len(vid), N_TAGS), np.float32)
    for r, feat in enumerate(item_categories["feat"].to_numpy(object)[order]):
        if feat is None:
            continue
        t = np.asarray(feat, np.int64)
        if t.size and (t.min() < 0 or t.max() >= N_TAGS):
            raise ValueError(f"{what}: video {int(vid[order][r])} has a tag outside 0..{N_TAGS - 1}: "
                             f"{t.tolist()}")
        tags[r, t] = 1.0
    return vid[order], tags


def _first_tag(item_categories: pd.DataFrame, videos: np.ndarray) -> np.ndarray:
    feats = item_categories.set_index("video_id")["feat"].reindex(videos).to_numpy(object)
    return np.array([float(f[0]) if f is not None and len(f) else np.nan for f in feats])


def video_table(views: pd.DataFrame, item_daily: pd.DataFrame, item_categories: pd.DataFrame,
                daily_until: int) -> pd.DataFrame:
    """Per catalogue video (index video_id): train views and the item_daily_features averaged over the dates
    <= `daily_until` (YYYYMMDD). NaN where a video has no daily row."""
    what = "item_daily_features"
    _require(item_daily, DAILY_COLUMNS, what)
    _finite(item_daily, ["video_id", "date", "show_cnt", "play_cnt", "complete_play_cnt",
                         "short_time_play_cnt"], what)
    videos, tags = _tag_matrix(item_categories)
    d = item_daily.loc[item_daily["date"].to_numpy(np.int64) <= daily_until]
    if len(d) == 0:
        raise ValueError(f"{what}: no row dated on or before {daily_until} (the last train day)")
    show, play = d["show_cnt"].to_numpy(np.float64), d["play_cnt"].to_numpy(np.float64)
    if (show < 0).any() or (play < 0).any():
        raise ValueError(f"{what}: negative show_cnt or play_cnt")
    g = pd.DataFrame({"video_id": d["video_id"].to_numpy(np.int64), "ls": np.log1p(show),
                      "lp": np.log1p(play), "show": show, "play": play,
                      "comp": d["complete_play_cnt"].to_numpy(np.float64),
                      "short": d["short_time_play_cnt"].to_numpy(np.float64),
                      "dur": pd.to_numeric(d["video_duration"], errors="coerce").to_numpy(np.float64,
                                                                                          na_value=np.nan)})
    agg = g.groupby("video_id").agg(ls=("ls", "mean"), lp=("lp", "mean"), show=("show", "sum"),
                                    play=("play", "sum"), comp=("comp", "sum"), short=("short", "sum"),
                                    dur=("dur", "median")).reindex(videos)
    counts = pd.Series(views["video_id"].to_numpy(np.int64)).value_counts().reindex(videos, fill_value=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "views": counts.to_numpy(np.float64),
            "v_log_show": agg["ls"].to_numpy(), "v_log_play": agg["lp"].to_numpy(),
            "v_play_per_show": np.where(agg["show"] > 0, agg["play"] / agg["show"], np.nan),
            "v_complete_rate": np.where(agg["play"] > 0, agg["comp"] / agg["play"], np.nan),
            "v_short_rate": np.where(agg["play"] > 0, agg["short"] / agg["play"], np.nan),
            "v_log_duration": np.where(agg["dur"] > 0, np.log(agg["dur"] / 1000.0), np.nan),
            "v_n_tags": tags.sum(1).astype(np.float64),
            "v_tag0": _first_tag(item_categories, videos),
        }, index=pd.Index(videos, name="video_id"))
    return out


def user_table(views: pd.DataFrame, user_features: pd.DataFrame,
               blocked: dict[int, np.ndarray] | None = None) -> pd.DataFrame:
    """Per user of user_features (index user_id): train views, train sessions, activity degree code, and
    the share of all train views that went to the user's small-matrix videos (which big never shows the
    user: the popularity the user's sessions cannot draw on)."""
    what = "user_features"
    _require(user_features, ["user_id", "user_active_degree"], what)
    users = np.sort(user_features["user_id"].to_numpy(np.int64))
    if len(np.unique(users)) != len(users):
        raise ValueError(f"{what}: user_id is not unique")
    deg = user_features.set_index("user_id")["user_active_degree"].reindex(users).astype(object)
    code = np.full(len(users), float(len(ACTIVE_LEVELS)))
    for k, lvl in enumerate(ACTIVE_LEVELS):
        code[(deg == lvl).to_numpy()] = k
    u = views["user_id"].to_numpy(np.int64)
    nv = pd.Series(u).value_counts().reindex(users, fill_value=0).to_numpy(np.float64)
    ns = (views.drop_duplicates("session_id")["user_id"].astype(np.int64).value_counts()
          .reindex(users, fill_value=0).to_numpy(np.float64))
    vc = pd.Series(views["video_id"].to_numpy(np.int64)).value_counts()
    bpop = np.zeros(len(users))
    for u, vids in (blocked or {}).items():
        k = np.searchsorted(users, u)
        if k < len(users) and users[k] == u:
            bpop[k] = vc.reindex(np.asarray(vids, np.int64), fill_value=0).sum() / max(len(views), 1)
    return pd.DataFrame({"views": nv, "sessions": ns, "u_active": code, "u_blocked_pop": bpop},
                        index=pd.Index(users, name="user_id"))


# ---------------------------------------------------------------------------------------------- model


@dataclass
class PropensityModel:
    """A fitted propensity model: `predict` gives pi(s, v) = P(video v shown in session s)."""

    clf: object
    videos: pd.DataFrame  # video_table
    users: pd.DataFrame  # user_table
    tags: np.ndarray  # (V, N_TAGS) tag matrix, rows in videos' order
    user_tags: np.ndarray  # (U, N_TAGS) tag counts of each user's train views, rows in users' order
    negatives: int
    blocked: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def n_catalogue(self) -> int:
        return len(self.videos)

    def _index(self, ids: np.ndarray, table: pd.DataFrame, what: str) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        pos = table.index.get_indexer(ids)
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            raise ValueError(f"{what} {int(ids[i])} (row {i}) is not in the catalogue the model knows "
                             f"({int((pos < 0).sum())} such rows)")
        return pos

    def design(self, user: np.ndarray, video: np.ndarray, start_time: np.ndarray, length: np.ndarray,
               own: dict | None = None) -> pd.DataFrame:
        """The FEATURES of rows (user, video, session start in UTC epoch s, logged session length). `own`
        (training rows): `tag_counts`, the (n_rows, N_TAGS) tag counts of the row's own session's views, left
        out of the user's counts with the session's length and the session itself."""
        ui = self._index(user, self.users, "user")
        vi = self._index(video, self.videos, "video")
        n = len(ui)
        length = np.asarray(length, np.float64)
        own_len = length if own is not None else np.zeros(n)
        own_sess = np.ones(n) if own is not None else np.zeros(n)
        V, U = self.videos, self.users
        hour = local_hour(start_time)
        X = pd.DataFrame({
            "v_log_views": np.log1p(V["views"].to_numpy()[vi]),
            **{c: V[c].to_numpy()[vi] for c in ("v_log_show", "v_log_play", "v_play_per_show",
                                                "v_complete_rate", "v_short_rate", "v_log_duration",
                                                "v_n_tags", "v_tag0")},
            "u_log_views": np.log1p(U["views"].to_numpy()[ui] - own_len),
            "u_log_sessions": np.log1p(U["sessions"].to_numpy()[ui] - own_sess),
            "u_active": U["u_active"].to_numpy()[ui], "u_blocked_pop": U["u_blocked_pop"].to_numpy()[ui],
            "s_hour_sin": np.sin(2 * np.pi * hour / 24), "s_hour_cos": np.cos(2 * np.pi * hour / 24),
            "s_log_length": np.log(length),
            "ux_tag_lift": self._tag_lift(ui, vi, own_len, None if own is None else own["tag_counts"]),
        })
        return X[list(FEATURES)]

    def _tag_lift(self, ui: np.ndarray, vi: np.ndarray, own_len: np.ndarray,
                  own_tags: np.ndarray | None) -> np.ndarray:
        """log of (the user's smoothed share of train views carrying the video's tags, mean over its tags)
        over (the global share of the same tags); 0 for a video without tags."""
        g = self.user_tags.sum(0) / max(float(self.users["views"].sum()), 1.0)
        out = np.zeros(len(ui))
        for a in range(0, len(ui), 200_000):
            b = slice(a, a + 200_000)
            T = self.tags[vi[b]]
            k = np.maximum(T.sum(1), 1.0)
            c = self.user_tags[ui[b]] - (own_tags[b] if own_tags is not None else 0.0)
            n_u = self.users["views"].to_numpy()[ui[b]] - own_len[b]
            share = ((c + TAG_PRIOR * g) * T).sum(1) / k / (n_u + TAG_PRIOR)
            base = (g * T).sum(1) / k
            with np.errstate(divide="ignore", invalid="ignore"):
                out[b] = np.where(base > 0, np.log(np.maximum(share, 1e-12) / np.maximum(base, 1e-12)), 0.0)
        return out

    def predict(self, user: np.ndarray, video: np.ndarray, start_time: np.ndarray,
                length: np.ndarray) -> np.ndarray:
        """pi = P(video shown in the session) for rows (user, video, session start, logged length), in
        [0, 1]; 0 for a user's small-matrix videos."""
        X = self.design(user, video, start_time, length)
        p = self.clf.predict_proba(X)[:, 1]
        with np.errstate(divide="ignore"):
            pi = self.negatives / self.n_catalogue * p / (1.0 - p)
        pi = np.clip(pi, 0.0, 1.0)
        if self.blocked:
            pi[_blocked_mask(np.asarray(user, np.int64), np.asarray(video, np.int64), self.blocked)] = 0.0
        return pi


def _blocked_mask(user: np.ndarray, video: np.ndarray, blocked: dict[int, np.ndarray]) -> np.ndarray:
    if not blocked:
        return np.zeros(len(user), bool)
    pairs = np.concatenate([np.c_[np.full(len(v), u, np.int64), np.asarray(v, np.int64)]
                            for u, v in blocked.items()]) if blocked else np.zeros((0, 2), np.int64)
    key = pairs[:, 0] * (1 << 32) + pairs[:, 1]
    return np.isin(user * (1 << 32) + video, key)


def _classifier(kind: str, seed: int):
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=300, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=200, l2_regularization=1.0,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
            categorical_features=[FEATURES.index(c) for c in CATEGORICAL],
            random_state=seed)
    if kind == "logistic":
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        num = [c for c in FEATURES if c not in CATEGORICAL]
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
             num),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value=-1),
                                  OneHotEncoder(handle_unknown="ignore")), list(CATEGORICAL)),
        ])
        return make_pipeline(pre, LogisticRegression(C=1.0, max_iter=2000))
    raise ValueError(f"classifier must be 'hgb' or 'logistic'; found {kind!r}")


def fit_propensity(views: pd.DataFrame, item_daily: pd.DataFrame, item_categories: pd.DataFrame,
                   user_features: pd.DataFrame, *, blocked: dict[int, np.ndarray] | None = None,
                   negatives: int = 100, max_sessions: int = 8000, classifier: str = "hgb",
                   seed: int = 0) -> PropensityModel:
    """Fit pi(s, v) on logged train views (VIEW_COLUMNS: one row per view; a session's views share
    session_id, user_id and start_time) with `negatives` uniform catalogue draws per session (module
    docstring). Deterministic for a seed."""
    what = "views (sessions.parquet, train split)"
    _require(views, VIEW_COLUMNS, what)
    _finite(views, VIEW_COLUMNS, what)
    if negatives < 1 or max_sessions < 1:
        raise ValueError(f"negatives and max_sessions must be >= 1; found {negatives}, {max_sessions}")
    views = views.reset_index(drop=True)
    per = views.groupby("session_id")[["user_id", "start_time"]].nunique()
    if (per > 1).any().any():
        sid = int(per.index[(per > 1).any(axis=1).to_numpy()][0])
        raise ValueError(f"{what}: session {sid} has more than one user_id or start_time")
    daily_until = int(day_to_yyyymmdd(local_day(views["start_time"].to_numpy(np.float64))).max())
    videos = video_table(views, item_daily, item_categories, daily_until)
    blocked = blocked or {}
    users = user_table(views, user_features, blocked)
    model = PropensityModel(clf=_classifier(classifier, seed), videos=videos, users=users,
                            tags=_tag_matrix(item_categories)[1], user_tags=np.zeros((len(users), N_TAGS)),
                            negatives=int(negatives), blocked=blocked)
    vi = model._index(views["video_id"].to_numpy(), videos, f"{what}: video")
    ui = model._index(views["user_id"].to_numpy(), users, f"{what}: user")
    np.add.at(model.user_tags, ui, model.tags[vi])

    rng = np.random.default_rng(seed)
    sids = np.unique(views["session_id"].to_numpy(np.int64))
    if len(sids) > max_sessions:
        sids = np.sort(rng.choice(sids, max_sessions, replace=False))
    pos = views[views["session_id"].isin(sids)].sort_values(["session_id", "video_id"], kind="stable")
    sess = pos.groupby("session_id").agg(user_id=("user_id", "first"), start_time=("start_time", "first"),
                                         length=("video_id", "size"))
    # negatives: m uniform draws over the catalogue per session; the user's small-matrix videos discarded
    neg_sess = np.repeat(sess.index.to_numpy(), negatives)
    neg_video = videos.index.to_numpy()[rng.integers(0, len(videos), len(neg_sess))]
    neg = pd.DataFrame({"session_id": neg_sess, "video_id": neg_video})
    neg = neg[~_blocked_mask(sess.loc[neg_sess, "user_id"].to_numpy(np.int64), neg_video, blocked)]
    rows = pd.concat([pos[["session_id", "video_id"]].assign(y=1), neg.assign(y=0)], ignore_index=True)
    rows = rows.join(sess, on="session_id")
    # what each row's own session contributes to its user's counts, left out of its features
    s_index = sess.index.get_indexer(pos["session_id"])
    s_tags = np.zeros((len(sess), N_TAGS))
    np.add.at(s_tags, s_index, model.tags[videos.index.get_indexer(pos["video_id"])])
    own_tags = s_tags[sess.index.get_indexer(rows["session_id"])]
    X = model.design(rows["user_id"].to_numpy(), rows["video_id"].to_numpy(), rows["start_time"].to_numpy(),
                     rows["length"].to_numpy(), own={"tag_counts": own_tags})
    y = rows["y"].to_numpy(np.int8)
    log.info("propensity model: %d sessions, %d positives, %d negatives (m = %d of V = %d)", len(sess),
             int(y.sum()), int((y == 0).sum()), negatives, len(videos))
    model.clf.fit(X, y)
    return model


# ---------------------------------------------------------------------------------------------- pools


def pool_inclusion_hat(model: PropensityModel, user: np.ndarray, video: np.ndarray, length: np.ndarray,
                       pool_size: int) -> np.ndarray:
    """P(video in the session's pool) under the stated pool model: M = max(pool_size, 2 length) distinct
    videos (at most the user's eligible ones) drawn with replacement in proportion to train views + 1 over
    the catalogue less the user's small-matrix videos (Poissonised: 1 - exp(-q_v t), summing to M)."""
    from vmrec.synthetic.propensity import pool_inclusion

    user, video = np.asarray(user, np.int64), np.asarray(video, np.int64)
    q_all = model.videos["views"].to_numpy(np.float64) + 1.0
    vi = model._index(video, model.videos, "video")
    blocked_pos = {u: np.sort(model.videos.index.get_indexer(np.asarray(v, np.int64)))
                   for u, v in model.blocked.items()}
    keys = {u: hash(b.tobytes()) for u, b in blocked_pos.items()}
    group = np.array([keys.get(int(u), 0) for u in user], np.int64)
    n_elig = np.array([len(q_all) - len(blocked_pos.get(int(u), ())) for u in user])
    m = np.minimum(np.maximum(pool_size, 2 * np.asarray(length, np.int64)), n_elig)
    rep_user = {g: int(u) for u, g in zip(user, group, strict=True)}
    out = np.empty(len(user))
    frame = pd.DataFrame({"g": group, "m": m})
    for (g, size), rows in frame.groupby(["g", "m"]).indices.items():
        q = q_all.copy()
        b = blocked_pos.get(rep_user[g], np.zeros(0, np.int64))
        q[b[b >= 0]] = 0.0
        out[rows] = pool_inclusion(q, int(size))[vi[rows]]
    return out


# ---------------------------------------------------------------------------------------------- calibration


def calibration_rows(target: str, where: str, pred: np.ndarray, true: np.ndarray, bins: int = 10,
                     weight: np.ndarray | None = None) -> list[dict]:
    """CALIBRATION_COLUMNS rows: one summary (bin "all") and `bins` equal-count bins of `pred`. With
    `weight`, every mean (and the ECE's bin sizes, the log ratio's mean and sd) is weighted, and the
    Spearman correlation is left empty."""
    from scipy.stats import spearmanr

    from vmrec.offpolicy import binned_error, calibration_bins

    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    if len(pred) == 0:
        return []
    w = np.ones(len(pred)) if weight is None else np.asarray(weight, np.float64)
    ok = (pred > 0) & (true > 0)
    lr = np.log(pred[ok] / true[ok])
    lr_mean = np.average(lr, weights=w[ok]) if ok.any() else np.nan
    dec = calibration_bins(true, pred, bins, w)
    rows = [{"target": target, "where": where, "bin": "all", "n": len(pred),
             "mean_pred": np.average(pred, weights=w), "mean_true": np.average(true, weights=w),
             "ece": binned_error(dec),
             "spearman": (float(spearmanr(pred, true).statistic) if weight is None and len(pred) > 2
                          else np.nan),
             "log_ratio_mean": lr_mean,
             "log_ratio_sd": np.sqrt(np.average((lr - lr_mean) ** 2, weights=w[ok])) if ok.any() else np.nan,
             "n_log": int(ok.sum())}]
    for k, (n, mp, mt, _) in enumerate(dec, start=1):
        rows.append({"target": target, "where": where, "bin": str(k), "n": n, "mean_pred": mp,
                     "mean_true": mt,
                     "ece": np.nan, "spearman": np.nan, "log_ratio_mean": np.nan, "log_ratio_sd": np.nan,
                     "n_log": np.nan})
    return rows


CATALOGUE = "all, 1/p_pool-weighted"
"""The `where` of the rows over every candidate weighted by 1 / planted p_pool: pool candidates are the
catalogue's videos sampled with probability p_pool, so these weights give the means over the catalogue,
the population the model is fitted on (a decile of pi_hat over-represents its high-p_pool videos among pool
candidates, whose planted propensity is higher)."""


def calibration_table(cands: pd.DataFrame) -> pd.DataFrame:
    """cands: shown, pi_hat, propensity, p_pool and optionally p_list_hat, p_list. CALIBRATION_COLUMNS, per
    target and where (shown, not shown, all; for the propensity also CATALOGUE)."""
    from vmrec.contracts import OFFPOLICY_WHERE

    targets = [("propensity", "pi_hat")] + ([("p_list", "p_list_hat")] if "p_list_hat" in cands else [])
    rows = []
    for target, col in targets:
        for where in (*OFFPOLICY_WHERE[:2], "all"):
            part = cands if where == "all" else cands[cands["shown"] == (where == "shown")]
            rows += calibration_rows(target, where, part[col].to_numpy(), part[target].to_numpy())
        if target == "propensity" and "p_pool" in cands:
            rows += calibration_rows(target, CATALOGUE, cands[col].to_numpy(), cands[target].to_numpy(),
                                     weight=1.0 / cands["p_pool"].to_numpy(np.float64))
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


# ---------------------------------------------------------------------------------------------- CLI


def read_log_inputs(results: Path) -> dict:
    """What the fit reads, all from the run's folder (no truth): sessions, item_daily_features,
    item_categories, user_features and small_matrix's pairs as blocked videos per user."""
    import pyarrow.parquet as pq

    from vmrec.value_model.scoring import blocked_pairs

    t = results / "tables"
    return {
        "sessions": pq.read_table(results / "sessions" / "sessions.parquet").to_pandas(),
        "item_daily": pq.read_table(t / "item_daily_features.parquet",
                                    columns=list(DAILY_COLUMNS)).to_pandas(),
        "item_categories": pq.read_table(t / "item_categories.parquet").to_pandas(),
        "user_features": pq.read_table(t / "user_features.parquet",
                                       columns=["user_id", "user_active_degree"]).to_pandas(),
        "blocked": blocked_pairs(t / "small_matrix.parquet"),
    }


def fit_from_results(results: Path, negatives: int = 100, max_sessions: int = 8000, classifier: str = "hgb",
                     seed: int = 0) -> tuple[PropensityModel, dict]:
    """Fit on the train sessions of a finished run (reads no truth)."""
    inp = read_log_inputs(results)
    s = inp["sessions"]
    _require(s, [*VIEW_COLUMNS, "split", "csv_row"], f"{results / 'sessions' / 'sessions.parquet'}")
    model = fit_propensity(s[s["split"] == "train"], inp["item_daily"], inp["item_categories"],
                           inp["user_features"], blocked=inp["blocked"],
                           negatives=negatives,
                           max_sessions=max_sessions, classifier=classifier, seed=seed)
    return model, inp


def held_out_candidates(results: Path, truth_dir: Path, sessions: pd.DataFrame, max_sessions: int,
                        seed: int) -> pd.DataFrame:
    """Candidates of held-out planted pools (first view in val or test; vmrec.offpolicy.held_out_pools),
    with their planted PROPENSITY_COLUMNS and the logged session of their first view (start_time, length).
    Planted sessions whose first view starts no logged session of sessions.parquet (length-1 sessions,
    dropped there) are left out."""
    import pyarrow.parquet as pq

    from vmrec.contracts import PROPENSITY_COLUMNS, TRUTH_POOLS
    from vmrec.offpolicy import held_out_pools

    edges = pq.read_table(results / "features" / "edges.parquet",
                          columns=["edge_id", "source", "csv_row", "date", "split"]).to_pandas()
    held = held_out_pools(truth_dir, edges, ["val", "test"], max_sessions, seed)
    prop = pq.read_table(truth_dir / TRUTH_POOLS, columns=["session_id", "video_id", *PROPENSITY_COLUMNS],
                         filters=[("session_id", "in", np.unique(held.pools["session_id"]).tolist())]
                         ).to_pandas()
    pools = held.pools[["session_id", "user_id", "video_id", "shown"]].merge(
        prop, on=["session_id", "video_id"], how="left", validate="one_to_one")
    first = held.views.groupby("session_id")["csv_row"].min().rename("csv_row").reset_index()
    logged = sessions.groupby("session_id").agg(start_time=("start_time", "first"),
                                                length=("video_id", "size"))
    first = first.merge(sessions[["csv_row", "session_id"]].rename(columns={"session_id": "logged"}),
                        on="csv_row", how="inner").join(logged, on="logged")
    n_all = pools["session_id"].nunique()
    pools = pools.merge(first[["session_id", "start_time", "length"]], on="session_id", how="inner")
    log.info("held-out planted pools: %d of %d sessions start a logged session",
             pools["session_id"].nunique(), n_all)
    return pools


def run(results: Path, truth_dir: Path, negatives: int = 100, max_sessions: int = 8000,
        eval_sessions: int = 10000, classifier: str = "hgb", pool_size: int = 50,
        seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit on the logs, score the held-out planted pools; (calibration table, scored candidates)."""
    model, inp = fit_from_results(results, negatives, max_sessions, classifier, seed)
    cands = held_out_candidates(results, truth_dir, inp["sessions"], eval_sessions, seed)
    cands["pi_hat"] = model.predict(cands["user_id"].to_numpy(), cands["video_id"].to_numpy(),
                                    cands["start_time"].to_numpy(), cands["length"].to_numpy())
    cands["p_pool_hat"] = pool_inclusion_hat(model, cands["user_id"].to_numpy(), cands["video_id"].to_numpy(),
                                             cands["length"].to_numpy(), pool_size)
    cands["p_list_hat"] = np.minimum(1.0, cands["pi_hat"] / cands["p_pool_hat"])
    return calibration_table(cands), cands


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, help="a finished synthetic run's results folder")
    ap.add_argument("truth", type=Path, help="its truth/ folder (read only to evaluate)")
    ap.add_argument("--out", type=Path, default=None,
                    help="calibration CSV (default RESULTS/propensity/calibration.csv)")
    ap.add_argument("--negatives", type=int, default=100, help="uniform catalogue draws per session")
    ap.add_argument("--max-sessions", type=int, default=8000, help="train sessions fitted on")
    ap.add_argument("--eval-sessions", type=int, default=10000, help="held-out planted pools scored")
    ap.add_argument("--classifier", choices=["hgb", "logistic"], default="hgb")
    ap.add_argument("--pool-size", type=int, default=50, help="value_model.pool_size of the pool model")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table, _ = run(a.results, a.truth, a.negatives, a.max_sessions, a.eval_sessions, a.classifier,
                   a.pool_size, a.seed)
    out = a.out or a.results / "propensity" / "calibration.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.5g")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[table["bin"] == "all"].drop(columns="bin").round(4).to_string(index=False))
        dec = table[table["bin"] != "all"]
        wide = dec.pivot_table(index="bin", columns=["target", "where"], values=["mean_pred", "mean_true"],
                               sort=False)
        wide.index = wide.index.astype(int)
        print(wide.sort_index().swaplevel(0, 2, axis=1).sort_index(axis=1, level=[0, 1], sort_remaining=False)
              .round(4).to_string())
    print(f"written to {out}")


if __name__ == "__main__":
    main()
