"""The release's side files: social_network, user_features, item_categories, item_daily_features and
kuairec_caption_category, drawn from the world (`write_side_files`).

Formats: (docs/data.md, "The release's files"); the oddities planted here (empty fields, UNKNOWN and
-124 markers, bare \\r in captions): (docs/data.md, "Quirks the loader handles").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vmrec.contracts import TABLE_COLUMNS, USER_ONEHOT_MAX, USER_RANGE_LEVELS
from vmrec.synthetic.behaviour import platform_rates
from vmrec.synthetic.clock import DAY0, SMALL_RANGE, day_index, day_to_yyyymmdd
from vmrec.synthetic.world import ScaleSpec, World
from vmrec.synthetic.writers import float_repr, list_literal, write_csv_rows, write_lines

TAG_NAMES = ("美食", "搞笑", "音乐", "舞蹈", "游戏", "宠物", "旅行", "时尚", "美妆", "体育", "汽车", "科技",
             "教育", "影视", "动漫", "亲子", "生活", "情感", "健身", "摄影", "三农", "军事", "历史", "财经",
             "房产", "家居", "手工", "职场", "健康", "明星", "才艺")
WORDS = ("今天", "分享", "一下", "我的", "日常", "快乐", "生活", "记录", "美好", "时光", "朋友", "一起",
         "喜欢", "关注", "点赞", "视频", "好看", "真的", "太", "了", "这个", "夏天", "回家", "晚上",
         "第一次", "挑战", "教程", "简单", "味道", "宝宝", "猫咪", "狗狗", "城市", "风景", "努力", "加油")


def _range_label(x: np.ndarray, edges: list[float], labels: list[str]) -> list[str]:
    return [labels[i] for i in np.searchsorted(edges, x, side="left").tolist()]


USER_COLUMNS = (["user_id", "user_active_degree", "is_lowactive_period", "is_live_streamer",
                 "is_video_author", "follow_user_num", "follow_user_num_range", "fans_user_num",
                 "fans_user_num_range",
                 "friend_user_num", "friend_user_num_range", "register_days", "register_days_range"]
                + [f"onehot_feat{k}" for k in range(18)])
ONEHOT_MAX = USER_ONEHOT_MAX


def _user_rows(world: World, rng: np.random.Generator) -> list[list]:
    U = world.n_users
    q = np.argsort(np.argsort(world.act)) / max(U - 1, 1)
    degree = np.where(q >= 0.15, "full_active", np.where(q >= 0.05, "high_active", "middle_active"))
    degree = np.where(rng.random(U) < 0.01, "UNKNOWN", degree)
    live = (rng.random(U) < 0.03).astype(int)
    author = (rng.random(U) < 0.15).astype(int)
    follow = np.where(rng.random(U) < 0.05, 0, np.rint(np.exp(rng.normal(3.5, 1.4, U)))).astype(int)
    fans = np.where(rng.random(U) < 0.2, 0, np.rint(np.exp(rng.normal(1.5, 1.6, U)))).astype(int)
    fans = np.minimum(fans, 99_999)
    friend = np.where(rng.random(U) < 0.3, 0, np.rint(np.exp(rng.normal(1.6, 1.2, U)))).astype(int)
    reg = np.clip(np.rint(np.exp(rng.normal(6.0, 1.0, U))), 15, 3000).astype(int)
    follow_r = _range_label(follow, [0, 10, 50, 100, 150, 250, 500],
                            list(USER_RANGE_LEVELS["follow_user_num_range"]))
    fans_r = _range_label(fans, [0, 9, 99, 999, 4999, 9999],
                          list(USER_RANGE_LEVELS["fans_user_num_range"]))
    friend_r = _range_label(friend, [0, 4, 29, 59, 119, 249],
                            list(USER_RANGE_LEVELS["friend_user_num_range"]))
    reg_r = _range_label(reg, [30, 60, 90, 180, 365, 730],
                         list(USER_RANGE_LEVELS["register_days_range"]))
    onehot = np.empty((U, 18), dtype=object)
    for k, mx in enumerate(ONEHOT_MAX):
        if k == 1:
            vals = world.ucat
        else:
            p = 1.0 / np.arange(1, mx + 2) ** 1.1
            vals = rng.choice(mx + 1, size=U, p=p / p.sum())
        col = vals.astype(object)
        miss_rate = 201 / 7176 if k == 4 else (75 / 7176 if k >= 12 else 0.0)
        if miss_rate:
            col[rng.random(U) < miss_rate] = ""
        onehot[:, k] = col
    rows = []
    for i in range(U):
        rows.append([i, degree[i], int(world.lowactive[i]), live[i], author[i], follow[i], follow_r[i],
                     fans[i], fans_r[i], friend[i], friend_r[i], reg[i], reg_r[i], *onehot[i].tolist()])
    return rows


CAPTION_HEADER = ("video_id,manual_cover_text,caption,topic_tag,first_level_category_id,"
                  "first_level_category_name,second_level_category_id,second_level_category_name,"
                  "third_level_category_id,third_level_category_name")


def _caption_rows(world: World, rng: np.random.Generator) -> list[str]:
    """Lines of kuairec_caption_category.csv (hand-written: 4 captions hold a bare, unquoted \\r)."""
    V = world.n_videos
    words = np.array(WORDS)
    cr_rows = set(rng.choice(np.flatnonzero(rng.random(V) < 2), size=min(4, V), replace=False).tolist())
    lines = []

    def q(field: str) -> str:
        needs = "," in field or '"' in field or "\n" in field
        return '"' + field.replace('"', '""') + '"' if needs else field

    for v in range(V):
        main = world.tags[v][0]
        cover = "UNKNOWN" if rng.random() < 0.6 else "".join(rng.choice(words, size=rng.integers(2, 5)))
        if rng.random() < 0.126:
            caption = ""
        else:
            caption = "".join(rng.choice(words, size=rng.integers(2, 8)))
            if rng.random() < 0.3:
                caption += "#" + TAG_NAMES[main]
            if v in cr_rows:
                caption = caption + "\r" + "".join(rng.choice(words, size=2))
        n_topic = rng.choice([0, 1, 2, 3], p=[0.4, 0.3, 0.2, 0.1])
        topic = "[" + ",".join(rng.choice(words, size=n_topic, replace=False).tolist()) + "]"
        cats = []
        missing_lvl = rng.choice([0, 1, 2, 3], p=[0.03, 0.05, 0.22, 0.70])  # levels present
        ids = [main + 1, 100 + main * 4 + int(rng.integers(0, 4)),
               1000 + main * 16 + int(rng.integers(0, 16))]
        for lvl in range(3):
            if lvl < missing_lvl:
                suffix = ("", "类", f"其他{ids[2] % 16}")[lvl]
                name = TAG_NAMES[main] + suffix
                cats += [str(ids[lvl]), name]
            else:
                cats += ["-124", "UNKNOWN"]
        fields = [str(v), q(cover), q(caption), q(topic), *cats]
        lines.append(",".join(fields))
    return lines


# The 58 columns of item_daily_features.csv, in the release's order (the ingest contract).
ITEM_DAILY_COLUMNS = list(TABLE_COLUMNS["item_daily_features"])
COLLECT_FROM = "2020-07-18"  # the four collect_* columns are empty before this date


def engagement_columns(world: World, vv: np.ndarray, play: np.ndarray, date: np.ndarray,
                       rng: np.random.Generator) -> list[pa.Array]:
    """The last 31 columns of item_daily_features (play_progress's successors: comment stay time, likes,
    comments, follows, shares, downloads, reports, reduce-similar, collects) of rows (video vv, date) with
    `play` plays, drawn from rates driven by the video's quality."""
    n = len(vv)
    like_rate = 0.03 * np.exp(0.5 * world.quality[vv])
    like = rng.binomial(play, np.clip(like_rate, 0, 0.5))
    like_u = rng.binomial(like, 0.98)
    dbl = rng.binomial(like, 0.7)
    click = like - dbl
    cancel_like = rng.binomial(like, 0.02)
    cancel_like_u = rng.binomial(cancel_like, 0.95)
    comment = rng.binomial(play, np.clip(0.004 * np.exp(0.4 * world.quality[vv]), 0, 0.2))
    comment_u = rng.binomial(comment, 0.8)
    reply = rng.binomial(comment, 0.3)
    direct = comment - reply
    del_c = rng.binomial(comment, 0.01)
    del_cu = rng.binomial(del_c, 0.9)
    c_like = rng.binomial(play, 0.01)
    c_like_u = rng.binomial(c_like, 0.9)
    stay = np.rint(comment * rng.gamma(2.0, 8000.0, n)).astype(np.int64)
    follow = rng.binomial(play, 0.002)
    follow_u = rng.binomial(follow, 0.98)
    c_follow = rng.binomial(follow, 0.05)
    c_follow_u = c_follow
    share = rng.binomial(play, np.clip(0.002 * np.exp(0.4 * world.quality[vv]), 0, 0.1))
    share_u = rng.binomial(share, 0.9)
    dl = rng.binomial(play, 0.001)
    dl_u = rng.binomial(dl, 0.95)
    report = rng.binomial(play, 0.0002)
    report_u = report
    reduce = rng.binomial(play, np.clip(0.002 * np.exp(-0.5 * world.quality[vv]), 0, 0.1))
    reduce_u = rng.binomial(reduce, 0.97)
    collect = rng.binomial(play, 0.002)
    collect_u = rng.binomial(collect, 0.98)
    c_collect = rng.binomial(collect, 0.03)
    c_collect_u = c_collect
    collect_missing = date < int(COLLECT_FROM.replace("-", ""))

    def s(x) -> pa.Array:
        return pc.cast(pa.array(np.asarray(x)), pa.string())

    def opt(col: pa.Array, missing: np.ndarray) -> pa.Array:
        return pc.if_else(pa.array(missing), "", col)

    return [
        s(stay), s(like), s(like_u), s(click), s(dbl), s(cancel_like), s(cancel_like_u),
        s(comment), s(comment_u), s(direct), s(reply), s(del_c), s(del_cu), s(c_like), s(c_like_u),
        s(follow), s(follow_u), s(c_follow), s(c_follow_u), s(share), s(share_u), s(dl), s(dl_u),
        s(report), s(report_u), s(reduce), s(reduce_u),
        opt(s(collect), collect_missing), opt(s(collect_u), collect_missing),
        opt(s(c_collect), collect_missing), opt(s(c_collect_u), collect_missing),
    ]


def video_attributes(world: World, rng: np.random.Generator, upload_day: np.ndarray | None = None) -> dict:
    """The static per-video columns of item_daily_features (author, type, upload date, size, music, main
    tag), drawn in this order; `upload_day` (days before DAY0) is drawn here unless the world has one."""
    V = world.n_videos
    a: dict = {"author": rng.integers(0, max(V // 3, 1), V) * 7 + 11,
               "vtype": np.where(rng.random(V) < 0.03, "AD", "NORMAL")}
    if upload_day is None:
        upload_day = -np.rint(np.exp(rng.normal(3.0, 1.2, V))).astype(int) - 1
    a["upload_dt"] = np.datetime_as_string(DAY0 + upload_day.astype("timedelta64[D]"))
    a["utype"] = rng.choice(["ShortImport", "LongImport", "ShortCamera", "LongCamera", "Web", "PictureSet"],
                            size=V, p=[0.5, 0.2, 0.15, 0.08, 0.04, 0.03])
    a["width"] = rng.choice([720, 1080, 540, 576], size=V, p=[0.6, 0.25, 0.1, 0.05])
    a["height"] = np.where(rng.random(V) < 0.85, (a["width"] * 16) // 9, a["width"])
    a["music"] = rng.integers(1, 5_000_000, V)
    main_tag = np.array([t[0] for t in world.tags])
    a["tag_id"] = 100 + main_tag * 37
    a["tag_name"] = np.array(TAG_NAMES)[main_tag]
    return a


def _s(x) -> pa.Array:
    return pc.cast(pa.array(np.asarray(x)), pa.string())


def _opt(col: pa.Array, missing: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(missing), "", col)


def daily_static_columns(world: World, vv: np.ndarray, date: np.ndarray, a: dict,
                         rng: np.random.Generator) -> list[pa.Array]:
    """The first 13 item_daily_features columns of rows (video vv, date): the video's static attributes
    `a` (video_attributes) with the visibility and the release's empty fields drawn here, in this order."""
    n = len(vv)
    visible = np.where(rng.random(n) < 0.01, "private", np.where(rng.random(n) < 0.003, "only friends",
                                                                  "public"))
    vdur_missing = rng.random(n) < 0.031
    tag_missing = rng.random(n) < 0.094
    return [
        _s(vv), _s(date), _s(a["author"][vv]), _s(a["vtype"][vv]), _s(a["upload_dt"][vv]), _s(a["utype"][vv]),
        _s(visible), _opt(float_repr(world.dur[vv].astype(np.float64)), vdur_missing), _s(a["width"][vv]),
        _s(a["height"][vv]), _s(a["music"][vv]), _s(a["tag_id"][vv]),
        _opt(_s(a["tag_name"][vv]), tag_missing),
    ]


def _item_daily(world: World, rng: np.random.Generator) -> list[pa.Array]:
    V = world.n_videos
    rates = platform_rates(world, rng)
    days = np.arange(day_index(SMALL_RANGE[0]), day_index(SMALL_RANGE[1]) + 1)
    # a row exists on days with platform activity; more popular videos have more rows (~32 / 63 on average)
    pop_rank = np.argsort(np.argsort(world.pop)) / max(V - 1, 1)
    p_row = np.clip(0.18 + 0.66 * pop_rank, 0.02, 1.0)
    present = rng.random((V, len(days))) < p_row[:, None]
    present[np.arange(V), rng.integers(0, len(days), V)] = True
    vv, dd = np.nonzero(present)
    n = len(vv)
    date = day_to_yyyymmdd(days[dd])
    static = video_attributes(world, rng)
    # daily counts: platform-level shows ~ popularity x daily factor, outcomes ~ the video's true rates
    day_factor = np.exp(rng.normal(0, 0.25, len(days)))[dd]
    lam = 3000.0 * world.pop[vv] * V * day_factor * rng.gamma(5.0, 0.2, n)
    show = rng.poisson(lam)
    show_user = rng.binomial(show, 0.93)
    play_rate = 1 / (1 + np.exp(-(0.6 + 0.5 * world.quality[vv])))
    play = rng.binomial(show, play_rate)
    play_user = rng.binomial(play, 0.92)
    play_dur = np.rint(play * rates["mean_play"][vv] * np.exp(rng.normal(0, 0.05, n))).astype(np.int64)

    def outcome(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = rng.binomial(play, np.clip(rate[vv], 0, 1))
        return c, rng.binomial(c, 0.95)

    comp, comp_u = outcome(rates["complete"])
    valid, valid_u = outcome(rates["valid"])
    long_, long_u = outcome(rates["long"])
    short, short_u = outcome(rates["short"])
    progress = np.clip(rates["progress"][vv] + rng.normal(0, 0.01, n), 0, 1)
    engagement = engagement_columns(world, vv, play, date, rng)
    cols = [
        *daily_static_columns(world, vv, date, static, rng),
        _s(show), _s(show_user), _s(play), _s(play_user), _s(play_dur), _s(comp), _s(comp_u), _s(valid),
        _s(valid_u), _s(long_), _s(long_u), _s(short), _s(short_u), float_repr(np.round(progress, 4)),
        *engagement,
    ]
    assert len(cols) == len(ITEM_DAILY_COLUMNS) == 58
    return cols


def _social_rows(world: World, spec: ScaleSpec, rng: np.random.Generator) -> list[list]:
    users = np.sort(rng.choice(world.n_users, size=min(spec.n_social, world.n_users), replace=False))
    rows = []
    for u in users.tolist():
        k = int(min(1 + rng.geometric(0.6) - 1, 10)) or 1
        friends = sorted(set(rng.integers(0, world.n_users, k).tolist()) - {u}) or [(u + 1) % world.n_users]
        rows.append([u, list_literal(rng.permutation(friends))])
    return rows


def write_side_files(data: Path, world: World, spec: ScaleSpec, *, social: np.random.Generator,
                     users: np.random.Generator, items: np.random.Generator,
                     text: np.random.Generator, item_daily: list[pa.Array] | None = None) -> None:
    """Write the five side files into `data` (the release's data folder), each from its own generator;
    `item_daily`: the columns of item_daily_features when computed elsewhere (the platform world's, from
    the logged views), else drawn here from the true rates."""
    write_csv_rows(data / "social_network.csv", ["user_id", "friend_list"], _social_rows(world, spec, social))
    write_csv_rows(data / "user_features.csv", USER_COLUMNS, _user_rows(world, users))
    write_csv_rows(data / "item_categories.csv", ["video_id", "feat"],
                   [[v, list_literal(t)] for v, t in enumerate(world.tags)])
    with open(data / "item_daily_features.csv", "wb") as f:
        f.write((",".join(ITEM_DAILY_COLUMNS) + "\n").encode())
        write_lines(f, _item_daily(world, items) if item_daily is None else item_daily)
    with open(data / "kuairec_caption_category.csv", "w", encoding="utf-8", newline="") as f:
        f.write(CAPTION_HEADER + "\n" + "\n".join(_caption_rows(world, text)) + "\n")
