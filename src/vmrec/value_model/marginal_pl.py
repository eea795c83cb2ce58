"""Pool-marginal Plackett-Luce: value-model weights from logged lists when the candidate pools are unknown.

The logging policy draws a pool of M videos from a candidate distribution q over the catalogue, ranks it
by w . p + Gumbel noise and shows the top L in order (Plackett-Luce with utilities u = beta . p, beta =
w / noise). The event "the first k shown are s_1..s_k, in that order" has, for a pool holding them and
M - k other videos (sum of their exp(u): R),

    P(s_1..s_k | pool) = prod_{i<=k} exp(u_{s_i}) / (A_i + R),   A_i = sum_{i<=j<=k} exp(u_{s_j}).

The pool is not logged. Integrating it out with the other members drawn from q (iid: a draw without
replacement from a large catalogue) and R replaced by its mean (M - k) m, m = sum_v q_v exp(u_v), gives two
forms of the likelihood (`likelihood`):

- **choice**: pick i is a choice among the shown video s_i and the session's sampled
  alternatives (those not shown before i), each member v weighted by its pool-marginal probability of
  being pick i over its proposal probability g_v (McFadden 1978: sampled alternatives, ln g offsets):

      P(s_i | s_1..s_{i-1}) = f_i(s_i) / g_{s_i} / sum_{c in C_i} f_i(c) / g_c,
      f_i(v) = q_v lam_v prod_{j<=i} 1 / (B_j + lam_v),  lam = exp(u),  B_j = sum_{j<=m<i} lam_{s_m} + R_i,

  with R_i = (M - i) m the pool's rest beside v. The normaliser is over the sampled set, so the estimate
  keeps beta's scale and leans less on how well m is known, most where the utilities are sharp (low
  logging noise); both forms are measured in docs/value_model.md, "Pools unknown".
- **joint** (the default): the probability of the leading picks under the pool model,

      log P(s_1..s_k) = sum_{i<=k} [ln q_{s_i} + u_{s_i} - ln(A_i + (M - k) m)]  (+ const),

  not normalised over the videos: it under-states the scale and errs most where utilities are sharp.
  For k = 1 it is McFadden's conditional logit of the first pick against the catalogue with the pool's
  finite size in the denominator.

In both, R's randomness is replaced by its mean (Jensen); integrating it exactly (the exponential-race
form of Plackett-Luce: P(first = v) = M q_v int lam_v e^(-lam_v t) phi(t)^(M-1) dt, phi the Laplace
transform of lam under q, estimated from the alternatives) measured the same angles on synthetic truth at
10x the cost, so the plug-in stays. `positions` sets k.

Which form and k: with the true heads, choice at k = 1 (the recovery study's setting): its later picks
carry the plug-in's error. With a model's heads, joint at k = 3: the heads over-rate the candidates the
policy passed over, the choice form compares every pick with such candidates, and the joint form's later
picks compare shown videos with each other, where the heads are right (docs/value_model.md, measured on
two planted cases).

Nothing here presupposes the pool distribution: q_v = softmax(alpha)_v over the videos the user may be
shown, with one **video effect** alpha_v per video (how often the platform considers it), estimated jointly
with beta. alpha absorbs any per-video inclusion probability (a popular video's chance to be in a pool of
distinct videos saturates); beta is identified by how the heads of the same video vary across users and by
the order of the first k picks. The alphas are shrunk (L2, `alpha_l2`) towards a line in log views, a +
b ln(1 + views) with a and b free, so rarely shown videos borrow strength and never diverge.

m is estimated per session from `n_alternatives` videos drawn with replacement from a proposal g (the
views distribution of the log, known to us) with the sampling correction: m_hat = mean_k q_{v_k} / g_{v_k}
exp(u_{v_k}) (joint form; unbiased for m), or its self-normalised version (choice form, where the
normaliser of q cancels); a draw of a video the user may not be shown (`blocked`) counts as zero. M is
max(`pool_size`, 2 L), the convention of the drawn pools.

Intervals: session bootstrap (sessions resampled with replacement, alternatives with their session, each
replicate refitted from the estimate), the estimate +- 1.96 bootstrap standard deviations of the unit
vector; the bootstrap covariance also gives the identification diagnostics (the spread of the weakest
direction and the angle within the well-identified subspace).

Optimiser: torch.optim.LBFGS (strong Wolfe line search) on the full batch in float64, with a diagonal
preconditioner (video effects scaled by their choice counts: 450 -> 42 iterations, same optimum).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from vmrec.contracts import HEADS, PROB_COLUMNS
from vmrec.value_model.estimate import MIN_SESSIONS, Z95, EstimationError, unit

log = logging.getLogger("vmrec")

MIN_VIDEOS = 20
"""Fewest distinct shown videos the video effects are estimated from."""
LIKELIHOODS = ("choice", "joint")
"""value_model.marginal_pl.likelihood: the forms of the module docstring."""
FIT_KEYS = ("positions", "likelihood", "alpha_l2", "bootstrap")
"""The keys of a marginal_pl settings section that fit_marginal_pl takes (fit_kwargs)."""


def fit_kwargs(settings: dict) -> dict:
    """fit_marginal_pl's settings from a marginal_pl section (value_model.marginal_pl, or a recovery case's
    merged settings)."""
    return {k: settings[k] for k in FIT_KEYS}
WEAK_SD = 0.15
"""Bootstrap standard deviation (unit-vector units) above which a direction counts as weakly identified."""


@dataclass
class ChoiceData:
    """Logged lists with sampled alternatives, as padded arrays (S sessions).

    P_list (S, Lmax, K) heads of the shown videos in list order; vid_list (S, Lmax) their video index
    (into `videos`), -1 padding; length (S,); P_alt (S, A, K) heads of the sampled alternatives; vid_alt
    (S, A) their video index, -1 where the draw is a video the user may not be shown; log_g (S, A) log
    proposal probability of each alternative; rest (S,) M - L, unseen pool members; blocked_row (S,) row
    of `blocked` (users x videos, 0/1) for the session's user, -1 if none; videos (V,) video ids;
    log_views (V,) ln(1 + views) of each video (the prior line of the video effects); log_g_video (V,) the
    proposal's log probability of each video (a shown video with no views in `views` counts half a view)."""

    P_list: np.ndarray
    vid_list: np.ndarray
    length: np.ndarray
    P_alt: np.ndarray
    vid_alt: np.ndarray
    log_g: np.ndarray
    rest: np.ndarray
    blocked_row: np.ndarray
    blocked: np.ndarray | None
    videos: np.ndarray
    log_views: np.ndarray
    session_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    log_g_video: np.ndarray | None = None  # (V,) log proposal probability of each video (the `choice` form)

    @property
    def n_sessions(self) -> int:
        return int(self.P_list.shape[0])


def _video_index(videos: np.ndarray, ids: np.ndarray) -> np.ndarray:
    col = np.searchsorted(videos, ids)
    ok = (col < len(videos)) & (videos[np.minimum(col, len(videos) - 1)] == ids)
    return np.where(ok, col, -1)


def draw_alternatives(
    session_id: np.ndarray,
    user_id: np.ndarray,
    views: pd.Series,
    n_alternatives: int,
    seed: int,
    blocked: dict[int, np.ndarray] | None = None,
) -> pd.DataFrame:
    """`n_alternatives` videos per session drawn with replacement in proportion to `views` (video_id ->
    views of the log): session_id, video_id, log_g (log draw probability), allowed (False: a video the
    session's user may not be shown, e.g. their small-matrix videos)."""
    vids = views.index.to_numpy(np.int64)
    g = views.to_numpy(float)
    if (g <= 0).any() or len(g) == 0:
        raise EstimationError("alternatives: the views distribution needs positive counts for every video")
    g = g / g.sum()
    rng = np.random.default_rng(seed)
    S = len(session_id)
    col = np.searchsorted(np.cumsum(g), rng.random(S * n_alternatives) * (1 - 1e-12), side="right")
    col = np.minimum(col, len(vids) - 1)
    v = vids[col]
    s = np.repeat(np.arange(S), n_alternatives)
    allowed = np.ones(len(v), bool)
    if blocked:
        u = np.asarray(user_id, np.int64)[s]
        for uid, bv in blocked.items():
            rows = np.flatnonzero(u == uid)
            if len(rows):
                allowed[rows] = ~np.isin(v[rows], bv)
    return pd.DataFrame({"session_id": np.asarray(session_id)[s], "video_id": v,
                         "log_g": np.log(g[col]), "allowed": allowed})


def choice_data(
    lists: pd.DataFrame,
    alternatives: pd.DataFrame,
    views: pd.Series,
    pool_size: int,
    blocked: dict[int, np.ndarray] | None = None,
) -> ChoiceData:
    """Assemble ChoiceData from long tables.

    lists: session_id, user_id, video_id, position (0..L-1) and PROB_COLUMNS of every shown view;
    alternatives: session_id, video_id, log_g, allowed and PROB_COLUMNS (draw_alternatives + scoring);
    views: video_id -> views of the log (the candidate videos: every video a pool may hold)."""
    for name, df, need in (("lists", lists, ["session_id", "user_id", "video_id", "position", *PROB_COLUMNS]),
                           ("alternatives", alternatives,
                            ["session_id", "video_id", "log_g", "allowed", *PROB_COLUMNS])):
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise EstimationError(f"pool-marginal Plackett-Luce: {name} lacks column(s) {missing}")
        bad = ~np.isfinite(df[list(PROB_COLUMNS)].to_numpy(float)).all(1)
        if bad.any():
            raise EstimationError(f"pool-marginal Plackett-Luce: {name} row {int(np.argmax(bad))} has a "
                                  f"non-finite head probability")
    lists = lists.sort_values(["session_id", "position"], kind="stable")
    sids, start, length = np.unique(lists["session_id"].to_numpy(np.int64), return_index=True,
                                    return_counts=True)
    pos = lists["position"].to_numpy(np.int64)
    expect = np.arange(len(lists)) - np.repeat(start, length)
    if not np.array_equal(pos, expect):
        i = int(np.argmax(pos != expect))
        sid = int(lists["session_id"].iloc[i])
        raise EstimationError(f"pool-marginal Plackett-Luce: session_id {sid}: positions must be 0..L-1, "
                              f"found {int(pos[i])} where {int(expect[i])} was expected")
    videos = np.union1d(views.index.to_numpy(np.int64), np.unique(lists["video_id"].to_numpy(np.int64)))
    n_views = views.reindex(videos, fill_value=0).to_numpy(float)
    S, Lmax, K = len(sids), int(length.max()), len(PROB_COLUMNS)
    row = np.repeat(np.arange(S), length)
    P_list = np.zeros((S, Lmax, K))
    P_list[row, expect] = lists[list(PROB_COLUMNS)].to_numpy(float)
    vid_list = np.full((S, Lmax), -1, np.int64)
    vid_list[row, expect] = _video_index(videos, lists["video_id"].to_numpy(np.int64))
    # alternatives: same sessions, fixed count per session
    alt = alternatives.sort_values("session_id", kind="stable")
    a_sid, a_cnt = np.unique(alt["session_id"].to_numpy(np.int64), return_counts=True)
    if not np.array_equal(a_sid, sids) or len(np.unique(a_cnt)) != 1:
        raise EstimationError("pool-marginal Plackett-Luce: every session needs the same number of "
                              "alternatives (draw_alternatives)")
    A = int(a_cnt[0])
    P_alt = alt[list(PROB_COLUMNS)].to_numpy(float).reshape(S, A, K)
    vid_alt = _video_index(videos, alt["video_id"].to_numpy(np.int64))
    vid_alt = np.where(alt["allowed"].to_numpy(bool), vid_alt, -1).reshape(S, A)
    log_g = alt["log_g"].to_numpy(float).reshape(S, A)
    user = lists["user_id"].to_numpy(np.int64)[start]
    blocked_row = np.full(S, -1, np.int64)
    mat = None
    if blocked:
        users = np.array(sorted(u for u in blocked if u in set(user.tolist())), np.int64)
        if len(users):
            mat = np.zeros((len(users), len(videos)))
            for i, u in enumerate(users):
                c = _video_index(videos, np.asarray(blocked[int(u)], np.int64))
                mat[i, c[c >= 0]] = 1.0
            r = np.searchsorted(users, user)
            ok = (r < len(users)) & (users[np.minimum(r, len(users) - 1)] == user)
            blocked_row = np.where(ok, r, -1)
    size = np.maximum(pool_size, 2 * length)
    g_video = np.maximum(n_views, 0.5)
    return ChoiceData(P_list=P_list, vid_list=vid_list, length=length.astype(np.int64), P_alt=P_alt,
                      vid_alt=vid_alt, log_g=log_g, rest=(size - length).astype(float),
                      blocked_row=blocked_row, blocked=mat, videos=videos, log_views=np.log1p(n_views),
                      session_id=sids, log_g_video=np.log(g_video / n_views.sum()))


class _Model:
    """The penalised negative log-likelihood as a torch function of (beta, alpha, a, b)."""

    def __init__(self, d: ChoiceData, alpha_l2: float, positions: int = 3, likelihood: str = "joint",
                 dtype=torch.float64) -> None:
        if likelihood not in LIKELIHOODS:
            raise EstimationError(f"value_model.marginal_pl.likelihood must be one of {list(LIKELIHOODS)}; "
                                  f"found {likelihood!r}")
        self.likelihood = likelihood
        t = lambda x: torch.tensor(np.asarray(x), dtype=dtype)  # noqa: E731  (a copy: inputs may be read-only)
        k = np.minimum(d.length, positions)
        Lk = int(k.max())
        self.P_list, self.P_alt = t(d.P_list[:, :Lk]), t(d.P_alt)
        self.mask = torch.as_tensor(np.arange(Lk)[None, :] < k[:, None])
        self.vid_list = torch.as_tensor(np.where(d.vid_list[:, :Lk] >= 0, d.vid_list[:, :Lk], 0))
        self.alt_ok = torch.as_tensor(d.vid_alt >= 0)
        self.vid_alt = torch.as_tensor(np.where(d.vid_alt >= 0, d.vid_alt, 0))
        self.log_g = t(d.log_g)
        rest = d.rest + d.length - k  # pool members outside the modelled prefix
        self.log_rest = t(np.log(np.maximum(rest, 1e-12)))
        self.has_rest = torch.as_tensor(rest > 0)
        self.n_alt = d.P_alt.shape[1]
        self.blocked_row = torch.as_tensor(d.blocked_row)
        self.blocked = None if d.blocked is None else t(d.blocked)
        self.log_views = t(d.log_views)
        self.alpha_l2 = float(alpha_l2)
        self.n_choices = int(k.sum())
        # diagonal preconditioner (see _fit): per video its modelled choices + 1 + the prior's weight
        picks = np.bincount(d.vid_list[:, :Lk][np.arange(Lk)[None, :] < k[:, None]], minlength=len(d.videos))
        h_alpha = (picks + 1.0 + alpha_l2) / self.n_choices
        h = np.r_[np.full(4, 0.05), h_alpha, np.full(2, alpha_l2 * len(d.videos) / self.n_choices)]
        self.precondition = t(1.0 / np.sqrt(h))
        self.V = len(d.videos)
        if likelihood == "choice":
            if d.log_g_video is None:
                raise EstimationError("pool-marginal Plackett-Luce: the `choice` likelihood needs "
                                      "log_g_video (build the data with choice_data)")
            self.log_g_video = t(d.log_g_video)
            self.pool = t(d.rest + d.length)  # M
            # taken[s, i, a]: alternative a of session s is one of its first i picks (not in pick i's set)
            va, vl = d.vid_alt, d.vid_list[:, :Lk]
            taken = np.zeros((d.n_sessions, Lk, va.shape[1]), bool)
            for i in range(1, Lk):
                taken[:, i] = taken[:, i - 1] | (va == vl[:, i - 1 : i])
            self.open_alt = torch.as_tensor(taken == 0) & self.alt_ok[:, None, :]

    def session_loglik(self, beta: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """(S,) log-likelihood of each session's list (the `likelihood` form: module docstring)."""
        if self.likelihood == "choice":
            return self._choice_loglik(beta, alpha)
        return self._joint_loglik(beta, alpha)

    def _choice_loglik(self, beta: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Each modelled pick i as a choice among {s_i} and the session's alternatives (those not shown
        before i), member v weighted by f_i(v) / g_v: f_i(v) = q_v lam_v prod_{j<=i} 1 / (B_j + lam_v)."""
        neg_inf = torch.tensor(-torch.inf, dtype=beta.dtype)
        u = self.P_list @ beta  # (S, Lk), padding rows masked below
        ua = self.P_alt @ beta  # (S, A)
        # ln m_s with self-normalised weights q / g over the allowed draws (ln Z_s cancels)
        alpha_alt = alpha[self.vid_alt]  # (S, A), gathered once for every position
        lw = torch.where(self.alt_ok, alpha_alt - self.log_g, neg_inf)
        log_m = torch.logsumexp(lw - torch.logsumexp(lw, 1, keepdim=True) + ua, 1)
        out = torch.zeros(len(u), dtype=beta.dtype)
        for i in range(u.shape[1]):
            log_r = torch.log(torch.clamp(self.pool - i - 1, min=1e-12)) + log_m  # the rest beside v
            vid = self.vid_list[:, i]
            U = torch.cat([u[:, i : i + 1], ua], 1)  # (S, 1 + A): the pick, then the alternatives
            lq = torch.cat([alpha[vid][:, None], torch.where(self.open_alt[:, i], alpha_alt, neg_inf)], 1)
            lg = torch.cat([self.log_g_video[vid][:, None], self.log_g], 1)
            if i > 0:  # B_j = sum_{m=j}^{i-1} lam_{s_m} + R, j < i; B_i = R
                suffix = torch.flip(torch.logcumsumexp(torch.flip(u[:, :i], [1]), 1), [1])
                log_b = torch.cat([torch.logaddexp(suffix, log_r[:, None]), log_r[:, None]], 1)
            else:
                log_b = log_r[:, None]
            lf = lq + U - lg - torch.logaddexp(log_b[:, :, None], U[:, None, :]).sum(1)
            ll = lf[:, 0] - torch.logsumexp(lf, 1)
            out = out + torch.where(self.mask[:, i], ll, torch.zeros_like(ll))
        return out

    def _joint_loglik(self, beta: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        neg_inf = torch.tensor(-torch.inf, dtype=beta.dtype)
        u = torch.where(self.mask, self.P_list @ beta, neg_inf)  # (S, Lmax)
        log_a = torch.flip(torch.logcumsumexp(torch.flip(u, [1]), 1), [1])  # ln A_i
        # ln Z_s: softmax normaliser of alpha over the videos the session's user may be shown
        amax = alpha.max()
        ea = torch.exp(alpha - amax)
        total = ea.sum()
        log_z = torch.full((len(u),), 0.0, dtype=beta.dtype) + (amax + torch.log(total))
        if self.blocked is not None:
            has = self.blocked_row >= 0
            bsum = self.blocked @ ea  # (n blocked users,)
            rows = self.blocked_row[has]
            log_z = log_z.clone()
            log_z[has] = amax + torch.log(torch.clamp(total - bsum[rows], min=1e-300))
        # ln m_s = ln mean_k q_k / g_k exp(u_k) over allowed draws (a blocked draw contributes 0)
        ua = self.P_alt @ beta
        base = torch.where(self.alt_ok, alpha[self.vid_alt] - log_z[:, None] - self.log_g, neg_inf)
        log_m1 = torch.logsumexp(base + ua, 1) - np.log(self.n_alt)
        num = torch.where(self.mask, alpha[self.vid_list] - log_z[:, None] + u, torch.zeros_like(u)).sum(1)
        # the pool's unseen rest at its mean (the plug-in: module docstring)
        log_r = torch.where(self.has_rest, self.log_rest + log_m1, neg_inf)
        denom = torch.logaddexp(log_a, log_r[:, None])
        return num - torch.where(self.mask, denom, torch.zeros_like(u)).sum(1)

    def objective(self, theta: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        beta, alpha, ab = theta[:4], theta[4 : 4 + self.V], theta[4 + self.V :]
        ll = self.session_loglik(beta, alpha)
        ll = ll.sum() if weights is None else (weights * ll).sum()
        prior = alpha - ab[0] - ab[1] * self.log_views
        return (-ll + 0.5 * self.alpha_l2 * (prior * prior).sum()) / self.n_choices


def _fit(model: _Model, theta0: torch.Tensor, weights: torch.Tensor | None, max_iter: int,
         tol: float) -> tuple[torch.Tensor, float, int, bool]:
    """L-BFGS on theta = theta0 + D z with a diagonal preconditioner D (the inverse square root of the
    Hessian's scale of each block: beta ~ the choices, each video effect ~ its own choices + the prior)."""
    z = torch.zeros_like(theta0, requires_grad=True)
    d = model.precondition
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        f = model.objective(theta0 + d * z, weights)
        f.backward()
        return f

    opt.step(closure)
    theta = (theta0 + d * z).detach()
    f = float(model.objective(theta, weights))
    n_iter = int(opt.state[opt._params[0]]["n_iter"])
    return theta, f, n_iter, n_iter < max_iter


@dataclass
class MarginalPLEstimate:
    w: np.ndarray  # unit vector, HEADS order
    scale: float  # |beta|: inverse noise scale in the units of unit w
    loglik: float
    intervals: np.ndarray | None  # (K, 2) 95% bootstrap intervals of the unit w
    n_sessions: int
    n_choices: int
    n_videos: int
    video_effects: np.ndarray  # (V,) alpha
    videos: np.ndarray
    diagnostics: dict
    bootstrap_w: np.ndarray | None = None  # (B, K) unit vectors of the replicates
    seconds: float = 0.0

    def weights_dict(self) -> dict[str, float]:
        return {h: float(v) for h, v in zip(HEADS, self.w, strict=True)}


def identification(w: np.ndarray, boot: np.ndarray | None, weak_sd: float = WEAK_SD) -> dict:
    """Weak directions from the bootstrap covariance of the unit vector (in the tangent space of the
    sphere at w): each principal direction's sd, whether the weakest exceeds `weak_sd`, and the heads it
    loads on."""
    if boot is None or len(boot) < 3:
        return {"weakly_identified": False, "note": "no bootstrap: identification not assessed"}
    proj = np.eye(len(w)) - np.outer(w, w)
    dev = (boot - w) @ proj
    cov = np.cov(dev.T)
    vals, vecs = np.linalg.eigh(cov)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    sd = np.sqrt(np.clip(vals[: len(w) - 1], 0, None))
    weak = [i for i in range(len(sd)) if sd[i] > weak_sd]
    return {
        "direction_sd": [float(s) for s in sd],
        "weakest_direction": {h: float(x) for h, x in zip(HEADS, vecs[:, 0], strict=True)},
        "weak_directions": [{h: float(x) for h, x in zip(HEADS, vecs[:, i], strict=True)} for i in weak],
        "weakly_identified": bool(weak),
        "weak_sd_threshold": weak_sd,
    }


def angle_in_identified_subspace(w_hat: np.ndarray, w_star: np.ndarray, weak: list[dict]) -> float:
    """Angle between w_hat and w* after both are projected off the weakly identified directions."""
    if not weak:
        from vmrec.value_model.estimate import angle_deg

        return angle_deg(w_hat, w_star)
    D = np.array([[d[h] for h in HEADS] for d in weak]).T  # (K, n weak)
    Q, _ = np.linalg.qr(D)
    proj = np.eye(len(w_hat)) - Q @ Q.T
    a, b = proj @ unit(w_hat), proj @ unit(w_star)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-9 or nb < 1e-9:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1, 1))))


def fit_marginal_pl(
    data: ChoiceData,
    *,
    alpha_l2: float = 1.0,
    positions: int = 3,
    likelihood: str = "joint",
    bootstrap: int = 20,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-7,
    min_sessions: int = MIN_SESSIONS,
    min_videos: int = MIN_VIDEOS,
    progress: bool = False,
) -> MarginalPLEstimate:
    """Fit beta and the video effects by penalised maximum likelihood; bootstrap intervals over sessions."""
    S = data.n_sessions
    if S < min_sessions:
        raise EstimationError(
            f"pool-marginal Plackett-Luce needs at least {min_sessions} sessions; found {S}")
    n_shown_videos = len(np.unique(data.vid_list[data.vid_list >= 0]))
    if n_shown_videos < min_videos:
        raise EstimationError(
            f"pool-marginal Plackett-Luce: the video effects need at least {min_videos} distinct shown "
            f"videos; found {n_shown_videos} in {S} sessions")
    if not alpha_l2 > 0:
        raise EstimationError(f"value_model.alpha_l2 must be > 0; found {alpha_l2!r}")
    t0 = time.perf_counter()
    model = _Model(data, alpha_l2, positions=positions, likelihood=likelihood)
    V = model.V
    lv = data.log_views
    theta0 = torch.zeros(4 + V + 2, dtype=torch.float64)
    theta0[4 : 4 + V] = torch.as_tensor(lv)
    theta0[4 + V + 1] = 1.0
    theta, f, n_iter, converged = _fit(model, theta0, None, max_iter, tol)
    beta = theta[:4].numpy()
    norm = float(np.linalg.norm(beta))
    if norm == 0 or not np.isfinite(beta).all():
        raise EstimationError("pool-marginal Plackett-Luce: the fit found no direction (beta = 0)")
    w = beta / norm
    boot_w = None
    intervals = None
    if bootstrap > 0:
        rng = np.random.default_rng(seed + 7919)
        reps = []
        from tqdm import tqdm

        for _ in tqdm(range(bootstrap), desc="value model: marginal PL bootstrap", disable=not progress):
            cnt = np.bincount(rng.integers(0, S, S), minlength=S).astype(float)
            th, _, _, _ = _fit(model, theta, torch.as_tensor(cnt), max_iter, tol)
            b = th[:4].numpy()
            reps.append(b / np.linalg.norm(b))
        boot_w = np.array(reps)
        sd = boot_w.std(0, ddof=1)
        intervals = np.stack([w - Z95 * sd, w + Z95 * sd], 1)
    diag = identification(w, boot_w)
    a, b = theta[4 + V :].tolist()
    # the line the video effects are shrunk to: candidates in proportion to (1 + views)^b (b fitted with w)
    diag.update({"iterations": n_iter, "converged": converged, "objective": f,
                 "video_effect_line": {"intercept": a, "log_views_slope": b}})
    if not converged:
        log.warning("pool-marginal Plackett-Luce: L-BFGS stopped at max_iter=%d before convergence", max_iter)
    est = MarginalPLEstimate(
        w=w, scale=norm, loglik=-f * model.n_choices, intervals=intervals, n_sessions=S,
        n_choices=model.n_choices, n_videos=V, video_effects=theta[4 : 4 + V].numpy(), videos=data.videos,
        diagnostics=diag, bootstrap_w=boot_w, seconds=time.perf_counter() - t0,
    )
    log.info("pool-marginal Plackett-Luce: %d sessions, %d choices, %d videos, w %s, %d iterations, %.1f s",
             S, model.n_choices, V, np.round(w, 3).tolist(), n_iter, est.seconds)
    return est


def session_choice_data(
    sess: pd.DataFrame,
    views: pd.Series,
    score,
    *,
    n_alternatives: int,
    pool_size: int,
    seed: int,
    blocked: dict[int, np.ndarray] | None = None,
) -> ChoiceData:
    """ChoiceData for the logged sessions `sess` (rows of sessions.parquet, with `date` where `score`
    needs it): the shown lists and `n_alternatives` draws per session in proportion to `views` (video_id ->
    views of the whole log), both scored by `score(long) -> long + PROB_COLUMNS` (a model's heads, or the
    planted truth) with each session's first-view context."""
    first = sess.sort_values(["session_id", "position"], kind="stable").drop_duplicates("session_id")
    extra = [c for c in ("date",) if c in sess.columns]
    alt = draw_alternatives(first["session_id"].to_numpy(), first["user_id"].to_numpy(), views,
                            n_alternatives, seed, blocked)
    alt = alt.merge(first[["session_id", *extra]], on="session_id", how="left")
    lists = sess[["session_id", "video_id", "position", *extra]]
    scored = score(lists.assign(position=lists["position"].astype(np.int64)))
    scored["user_id"] = sess["user_id"].to_numpy()
    return choice_data(scored, score(alt), views, pool_size, blocked)
