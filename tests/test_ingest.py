"""Ingest: hand-written fixtures in the exact KuaiRec 2.0 formats (docs/data.md, "The release's files"),
every quirk, bad inputs (clear error, no output at all), and a round trip on the tiny synthetic data."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from vmrec.contracts import RAW_FILES, TABLE_COLUMNS, TIMEZONE
from vmrec.ingest import IngestError, contract_schema, ingest_all, read_table, schema_strings

SH = ZoneInfo(TIMEZONE)


# --- fixtures in the real formats ----------------------------------------------------------------------
def _view(user: int, video: int, play: int, dur: int, ts: str | None, date_float: bool = False) -> str:
    """One interaction row written like the release: time = timestamp + 8 h, trailing zeros stripped."""
    ratio = repr(play / dur)
    if ts is None:
        return f"{user},{video},{play},{dur},,,,{ratio}"
    sec = float(ts)
    local = datetime.fromtimestamp(sec, tz=UTC) + timedelta(hours=8)
    frac = ts.split(".")[1] if "." in ts else "0"
    time = local.strftime("%Y-%m-%d %H:%M:%S") + "." + frac
    date = local.strftime("%Y%m%d") + (".0" if date_float else "")
    return f"{user},{video},{play},{dur},{time},{date},{ts},{ratio}"


BIG = "\n".join([
    "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio",
    # three real rows of the release's big_matrix.csv, verbatim (docs/data.md, "The release's files")
    "0,3649,13838,10867,2020-07-05 00:08:23.438,20200705,1593878903.438,1.2733965215790926",
    "0,8228,13484,8576,2020-07-05 01:00:25.5,20200705,1593882025.5,1.572294776119403",
    "0,6789,2327,13267,2020-07-05 03:28:02.32,20200705,1593890882.32,0.1753976030752996",
    # an exact duplicate (kept by the release) and a genuine re-watch (same pair, other time)
    "0,6789,2327,13267,2020-07-05 03:28:02.32,20200705,1593890882.32,0.1753976030752996",
    _view(0, 6789, 0, 13267, "1593890999.1"),
    _view(1, 148, 7300, 9600, "1596240000.25"),
    _view(1, 3649, 20000, 10867, "1596250000.999"),
    _view(2, 8228, 140, 140, "1596260000.001"),
]) + "\n"

SMALL = "\n".join([
    "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio",
    "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932",
    "14,6177,4407,7013,,,,0.6284043918437188",
    _view(14, 3649, 9000, 10867, "1593900000.5", date_float=True),
    _view(1, 6177, 0, 7013, "1593910000.12", date_float=True),
]) + "\n"

SOCIAL = 'user_id,friend_list\n0,[14]\n1,"[0, 14]"\n'

ITEM_CATEGORIES = 'video_id,feat\n148,[8]\n3649,"[27, 9]"\n6177,"[1, 2, 3, 30]"\n6789,[0]\n8228,[11]\n'

USER_HEADER = ("user_id,user_active_degree,is_lowactive_period,is_live_streamer,is_video_author,"
               "follow_user_num,follow_user_num_range,fans_user_num,fans_user_num_range,"
               "friend_user_num,friend_user_num_range,register_days,register_days_range,"
               + ",".join(f"onehot_feat{k}" for k in range(18)))
USERS = "\n".join([
    USER_HEADER,
    '0,high_active,0,0,0,5,"(0,10]",0,0,0,0,107,91-180,0,1,17,638,2,0,1,6,184,6,3,0,0,0,0,0,0,0',
    '1,full_active,0,1,1,386,"(250,500]",4,"[1,10)",2,"[1,5)",327,181-365,1,6,26,1075,,9,2,46,339,6,4,2,'
    + ",".join([""] * 6),
    '2,UNKNOWN,1,0,0,0,0,0,0,0,0,16,15-30,0,0,0,0,11,0,0,0,0,0,0,0,1,1,1,1,1,1',
    '14,middle_active,0,0,1,501,500+,7000,"[5k,1w)",251,250+,800,730+,1,7,29,3,4.0,5,2,1,2,0,1,1,0,0,0,0,0,0',
]) + "\n"

DAILY_HEADER = (
    "video_id,date,author_id,video_type,upload_dt,upload_type,visible_status,video_duration,"
    "video_width,video_height,music_id,video_tag_id,video_tag_name,show_cnt,show_user_num,"
    "play_cnt,play_user_num,play_duration,complete_play_cnt,complete_play_user_num,"
    "valid_play_cnt,valid_play_user_num,long_time_play_cnt,long_time_play_user_num,"
    "short_time_play_cnt,short_time_play_user_num,play_progress,comment_stay_duration,"
    "like_cnt,like_user_num,click_like_cnt,double_click_cnt,cancel_like_cnt,cancel_like_user_num,"
    "comment_cnt,comment_user_num,direct_comment_cnt,reply_comment_cnt,delete_comment_cnt,"
    "delete_comment_user_num,comment_like_cnt,comment_like_user_num,follow_cnt,follow_user_num,"
    "cancel_follow_cnt,cancel_follow_user_num,share_cnt,share_user_num,download_cnt,"
    "download_user_num,report_cnt,report_user_num,reduce_similar_cnt,reduce_similar_user_num,"
    "collect_cnt,collect_user_num,cancel_collect_cnt,cancel_collect_user_num"
)
_COUNTS13 = ",".join(str(10 * k) for k in range(13))
_COUNTS26 = ",".join(str(k) for k in range(26))
DAILY = "\n".join([
    DAILY_HEADER,
    f"148,20200705,3309,NORMAL,2020-03-30,ShortImport,public,5966.0,720,1280,2594,2,颜值,{_COUNTS13},"
    f"0.4573,1234.5,{_COUNTS26},,,,",
    f"148,20200706,3309,NORMAL,2020-03-30,ShortImport,only friends,,720,1280,2594,2,,{_COUNTS13},"
    f"0.5,0.0,{_COUNTS26},1,1,0,0",
    f"3649,20200705,17,AD,2020-07-01,LongImport,private,10867.0,1080,1920,99,-124,\"a, b\",{_COUNTS13},"
    f"0.9,3.25,{_COUNTS26},2.0,2,0,0",
]) + "\n"

CAPTION = (
    "video_id,manual_cover_text,caption,topic_tag,first_level_category_id,first_level_category_name,"
    "second_level_category_id,second_level_category_name,third_level_category_id,third_level_category_name\n"
    "148,UNKNOWN,精彩瞬间\r继续看,\"[日常,生活,vlog]\",8,颜值,673,颜值随拍,-124,UNKNOWN\n"
    "3649,封面文字,,[],27,美食,-124,UNKNOWN,-124,UNKNOWN\n"
    "6177,UNKNOWN,UNKNOWN,[搞笑],1,搞笑,2,段子,3,剧情\n"
    "6789,\"hi, there\",第一行\r第二行\r第三行,UNKNOWN,5,游戏,6,手游,-124,UNKNOWN\n"
    "8228,x,y,[a],9,体育,10,篮球,11,NBA\n"
)

FIXTURE = {
    "big_matrix.csv": BIG,
    "small_matrix.csv": SMALL,
    "social_network.csv": SOCIAL,
    "user_features.csv": USERS,
    "item_daily_features.csv": DAILY,
    "item_categories.csv": ITEM_CATEGORIES,
    "kuairec_caption_category.csv": CAPTION,
}


def write_fixture(raw: Path, replace: dict[str, bytes | str] | None = None) -> Path:
    """Write the seven fixture CSVs (bytes exactly as given, \\n line ends) into `raw`, read-only."""
    raw.mkdir(parents=True, exist_ok=True)
    for name, text in {**FIXTURE, **(replace or {})}.items():
        data = text.encode("utf-8") if isinstance(text, str) else text
        (raw / name).write_bytes(data)
        os.chmod(raw / name, 0o444)
    return raw


@pytest.fixture
def raw(tmp_path) -> Path:
    return write_fixture(tmp_path / "raw")


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- the fixture round trip ----------------------------------------------------------------------------
def test_fixture_ingests_with_contract_schemas_and_leaves_raw_untouched(raw, tmp_path):
    before = _digest(raw)
    out = tmp_path / "tables"
    paths = ingest_all(raw, out, duplicates="keep")
    assert set(paths) == {Path(f).stem for f in RAW_FILES}
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{Path(f).stem}.parquet" for f in RAW_FILES)
    for stem, path in paths.items():
        schema = pq.read_schema(path)
        assert schema_strings(schema) == TABLE_COLUMNS[stem], stem
    assert _digest(raw) == before
    rows = {stem: pq.ParquetFile(p).metadata.num_rows for stem, p in paths.items()}
    assert rows == {"big_matrix": 8, "small_matrix": 4, "social_network": 2, "item_categories": 5,
                    "user_features": 4, "item_daily_features": 3, "kuairec_caption_category": 5}


def test_time_parsing_any_fraction_digits_and_time_local_from_timestamp(raw):
    big = read_table(raw / "big_matrix.csv").to_pylist()
    assert [r["timestamp"] for r in big[:3]] == [1593878903.438, 1593882025.5, 1593890882.32]
    first = big[0]["time_local"]
    assert first.tzinfo is not None
    assert first.astimezone(SH).replace(tzinfo=None) == datetime(2020, 7, 5, 0, 8, 23, 438000)
    assert big[1]["time_local"].astimezone(SH).replace(tzinfo=None) == datetime(2020, 7, 5, 1, 0, 25, 500000)
    for r in big:
        assert r["time_local"].timestamp() == pytest.approx(r["timestamp"], abs=1e-3)
    assert [r["csv_row"] for r in big] == list(range(8))
    assert big[0]["date"] == 20200705


def test_small_float_date_and_empty_time_fields_become_nulls(raw):
    small = read_table(raw / "small_matrix.csv")
    assert small.schema.field("date").type == pa.int32()
    rows = small.to_pylist()
    assert rows[0]["date"] == 20200705
    assert rows[1]["timestamp"] is None and rows[1]["time_local"] is None and rows[1]["date"] is None
    assert rows[1]["watch_ratio"] == pytest.approx(4407 / 7013)
    assert small["timestamp"].null_count == 1


def test_duplicates_keep_and_drop(raw):
    keep = read_table(raw / "big_matrix.csv", duplicates="keep")
    drop = read_table(raw / "big_matrix.csv", duplicates="drop")
    assert keep.num_rows == 8 and drop.num_rows == 7
    # the first of the pair stays; csv_row still points at the CSV row
    assert drop["csv_row"].to_pylist() == [0, 1, 2, 4, 5, 6, 7]
    with pytest.raises(ValueError, match="duplicates must be one of"):
        read_table(raw / "big_matrix.csv", duplicates="maybe")


def test_list_columns_parsed_without_eval(raw):
    cats = read_table(raw / "item_categories.csv")
    assert cats.schema.field("feat").type == pa.list_(pa.int8())
    assert cats["feat"].to_pylist() == [[8], [27, 9], [1, 2, 3, 30], [0], [11]]
    social = read_table(raw / "social_network.csv")
    assert social["friend_list"].to_pylist() == [[14], [0, 14]]
    cap = read_table(raw / "kuairec_caption_category.csv")
    assert cap["topic_tag"].to_pylist() == [["日常", "生活", "vlog"], [], ["搞笑"], None, ["a"]]


def test_caption_bare_cr_unknown_and_minus_124(raw):
    cap = read_table(raw / "kuairec_caption_category.csv")
    assert cap.num_rows == 5
    rows = cap.to_pylist()
    assert rows[0]["caption"] == "精彩瞬间\r继续看"
    assert rows[3]["caption"] == "第一行\r第二行\r第三行"
    assert rows[3]["manual_cover_text"] == "hi, there"
    assert rows[0]["manual_cover_text"] is None  # UNKNOWN
    assert rows[1]["caption"] is None  # empty
    assert rows[2]["caption"] is None  # UNKNOWN
    assert rows[0]["third_level_category_id"] is None and rows[0]["third_level_category_name"] is None
    assert rows[0]["second_level_category_id"] == 673
    assert rows[1]["second_level_category_id"] is None  # -124
    assert [r["video_id"] for r in rows] == [148, 3649, 6177, 6789, 8228]


def test_user_features_nullable_ints_and_ranges(raw):
    users = read_table(raw / "user_features.csv")
    rows = users.to_pylist()
    assert rows[1]["onehot_feat4"] is None
    assert [rows[1][f"onehot_feat{k}"] for k in range(12, 18)] == [None] * 6
    assert rows[3]["onehot_feat4"] == 4  # written as 4.0
    assert users.schema.field("onehot_feat4").type == pa.int32()
    assert rows[0]["follow_user_num_range"] == "(0,10]"
    assert rows[3]["fans_user_num_range"] == "[5k,1w)"
    assert rows[2]["user_active_degree"] is None  # UNKNOWN
    assert users["onehot_feat0"].null_count == 0


def test_item_daily_features_types_and_nulls(raw):
    daily = read_table(raw / "item_daily_features.csv")
    rows = daily.to_pylist()
    assert rows[0]["upload_dt"].isoformat() == "2020-03-30"
    assert rows[0]["video_tag_name"] == "颜值" and rows[1]["video_tag_name"] is None
    assert rows[2]["video_tag_name"] == "a, b"
    assert rows[1]["video_duration"] is None and rows[0]["video_duration"] == 5966.0
    assert rows[0]["collect_cnt"] is None and rows[2]["collect_cnt"] == 2
    assert rows[1]["visible_status"] == "only friends"
    assert daily["show_cnt"].type == pa.int64() and daily["show_cnt"].null_count == 0


# --- bad inputs: a clear error and no output at all ---------------------------------------------------
def _bad(tmp_path: Path, name: str, content: bytes | str) -> tuple[str, Path]:
    raw = write_fixture(tmp_path / "raw", {name: content})
    out = tmp_path / "out"
    with pytest.raises(IngestError) as e:
        ingest_all(raw, out, duplicates="keep")
    assert not out.exists() or list(out.iterdir()) == [], "a failed ingest left files behind"
    return str(e.value), raw


def _replace_line(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


def test_missing_column(tmp_path):
    text = BIG.replace(",watch_ratio", "", 1)
    msg, _ = _bad(tmp_path, "big_matrix.csv", text)
    assert "big_matrix.csv" in msg and "line 1" in msg and "missing column(s) ['watch_ratio']" in msg


def test_renamed_header(tmp_path):
    msg, _ = _bad(tmp_path, "user_features.csv", USERS.replace("fans_user_num,", "fans_num,", 1))
    assert "user_features.csv" in msg and "missing column(s) ['fans_user_num']" in msg
    assert "unexpected column(s) ['fans_num']" in msg


def test_text_in_numeric_column(tmp_path):
    text = _replace_line(BIG, 4, BIG.split("\n")[3].replace(",2327,", ",abc,"))
    msg, _ = _bad(tmp_path, "big_matrix.csv", text)
    assert "big_matrix.csv" in msg and "column 'play_duration'" in msg and "line 4" in msg and "'abc'" in msg


def test_text_in_numeric_column_of_a_multiline_file(tmp_path):
    text = DAILY.replace(",720,1280,2594,", ",720,wide,2594,", 1)
    msg, _ = _bad(tmp_path, "item_daily_features.csv", text)
    assert "column 'video_height'" in msg and "line 2" in msg and "'wide'" in msg


def test_truncated_file(tmp_path):
    cut = BIG[: BIG.rindex("2020-08-01")] + "2020-08-01 13"  # last row cut mid-line, no newline
    msg, _ = _bad(tmp_path, "big_matrix.csv", cut)
    assert "big_matrix.csv" in msg and "line 9" in msg and "truncated" in msg


def test_empty_file(tmp_path):
    msg, _ = _bad(tmp_path, "social_network.csv", b"")
    assert "social_network.csv" in msg and "empty" in msg and "user_id,friend_list" in msg


def test_header_only_file(tmp_path):
    msg, _ = _bad(tmp_path, "item_categories.csv", "video_id,feat\n")
    assert "item_categories.csv" in msg and "no data rows" in msg


def test_header_only_matrix(tmp_path):
    msg, _ = _bad(tmp_path, "big_matrix.csv", BIG.split("\n")[0] + "\n")
    assert "big_matrix.csv" in msg and "no data rows" in msg


def test_non_utf8_byte(tmp_path):
    data = CAPTION.encode("utf-8").replace("封面文字".encode(), b"\xff\xfe bad", 1)
    msg, _ = _bad(tmp_path, "kuairec_caption_category.csv", data)
    assert "kuairec_caption_category.csv" in msg and "column 'manual_cover_text'" in msg
    assert "line 3" in msg and "UTF-8" in msg


BAD_VALUES = {
    # case: (file, its text with one bad value, what the error must name)
    "negative_play_duration": ("big_matrix.csv",
                               lambda: BIG.replace("0,6789,0,13267,", "0,6789,-5,13267,", 1),
                               ("column 'play_duration'", "line 6", ">= 0")),
    "zero_video_duration": ("small_matrix.csv",
                            lambda: _replace_line(SMALL, 3, "14,6177,4407,0,,,,0.6284043918437188"),
                            ("small_matrix.csv", "column 'video_duration'", "line 3")),
    "negative_id": ("item_categories.csv", lambda: ITEM_CATEGORIES.replace("6789,[0]", "-6789,[0]"),
                    ("column 'video_id'", "line 5", "-6789")),
    "watch_ratio_inconsistent": ("big_matrix.csv", lambda: BIG.replace("1.572294776119403", "1.57229", 1),
                                 ("column 'watch_ratio'", "line 3", "1.57229")),
    "time_disagrees_with_timestamp": ("big_matrix.csv",
                                      lambda: BIG.replace("2020-07-05 01:00:25.5", "2020-07-05 02:00:25.5",
                                                          1),
                                      ("column 'time'", "line 3", "Asia/Shanghai")),
    "partial_time_fields": ("small_matrix.csv",
                            lambda: _replace_line(SMALL, 3,
                                                  "14,6177,4407,7013,,20200705.0,,0.6284043918437188"),
                            ("all empty or all present", "line 3")),
    "missing_time_in_big": ("big_matrix.csv",
                            lambda: _replace_line(BIG, 2, "0,3649,13838,10867,,,,1.2733965215790926"),
                            ("big_matrix.csv", "line 2", "no empty field")),
    "bad_list_literal": ("item_categories.csv", lambda: ITEM_CATEGORIES.replace("[11]", "[11; 3]"),
                         ("column 'feat'", "line 6", "[11; 3]")),
    "unknown_activity_level": ("user_features.csv", lambda: USERS.replace("middle_active", "super_active"),
                               ("column 'user_active_degree'", "line 5", "super_active")),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_value_names_file_column_and_line(tmp_path, case):
    fname, text, expected = BAD_VALUES[case]
    msg, _ = _bad(tmp_path, fname, text())
    missing = [e for e in expected if e not in msg]
    assert not missing, f"{case}: the error lacks {missing}: {msg}"


def test_duplicate_key_in_a_one_row_per_id_file(tmp_path):
    msg, _ = _bad(tmp_path, "item_categories.csv", ITEM_CATEGORIES + "148,[3]\n")
    assert "unique (video_id)" in msg and "line 2" in msg and "line 7" in msg


def test_unknown_video_id_in_big(tmp_path):
    msg, _ = _bad(tmp_path, "big_matrix.csv", BIG.replace("\n2,8228,", "\n2,9999,", 1))
    assert "big_matrix.csv" in msg and "column 'video_id'" in msg and "line 9" in msg and "9999" in msg
    assert "item_categories.csv" in msg


def test_unknown_user_id_in_small(tmp_path):
    msg, _ = _bad(tmp_path, "small_matrix.csv", SMALL.replace("\n1,6177,", "\n77,6177,", 1))
    assert "small_matrix.csv" in msg and "column 'user_id'" in msg and "line 5" in msg and "77" in msg


def test_unknown_video_id_in_captions(tmp_path):
    msg, _ = _bad(tmp_path, "kuairec_caption_category.csv", CAPTION.replace("8228,x,y", "8229,x,y"))
    assert "kuairec_caption_category.csv" in msg and "column 'video_id'" in msg and "line 6" in msg


def test_line_numbers_count_physical_lines_of_multiline_records(tmp_path):
    # a quoted caption spanning two lines shifts the line numbers of the rows after it
    text = CAPTION.replace('"hi, there"', '"hi,\nthere"').replace("8228,x,y,[a],9,", "8228,x,y,[a],nine,")
    msg, _ = _bad(tmp_path, "kuairec_caption_category.csv", text)
    assert "column 'first_level_category_id'" in msg and "line 7" in msg


def test_failure_in_a_later_file_leaves_no_tables(tmp_path):
    # big/small/social/users ingest fine before the caption file fails: none of them may remain
    msg, _ = _bad(tmp_path, "kuairec_caption_category.csv", CAPTION.replace("8228,", "8228x,"))
    assert "kuairec_caption_category.csv" in msg


def test_missing_raw_file(tmp_path):
    raw = write_fixture(tmp_path / "raw")
    os.chmod(raw, 0o755)
    (raw / "social_network.csv").unlink()
    with pytest.raises(IngestError, match=r"missing raw file\(s\) \['social_network.csv'\]"):
        ingest_all(raw, tmp_path / "out")


# --- the tiny synthetic data ------------------------------------------------------------------------
def test_tiny_synthetic_round_trip(tiny_tables, tiny_raw_dir):
    for fname in RAW_FILES:
        stem = Path(fname).stem
        table = pq.read_table(tiny_tables / f"{stem}.parquet")
        assert schema_strings(table.schema) == TABLE_COLUMNS[stem]
        with open(tiny_raw_dir / fname, "rb") as f:
            lines = sum(1 for _ in f)
        if stem != "kuairec_caption_category":  # captions may hold quoted line breaks
            assert table.num_rows == lines - 1, stem  # duplicates: keep (the default)
    big = pq.read_table(tiny_tables / "big_matrix.parquet")
    assert big["timestamp"].null_count == 0
    small = pq.read_table(tiny_tables / "small_matrix.parquet")
    nulls = small["timestamp"].null_count
    assert nulls > 0, "the synthetic small matrix should have rows without time, like the release"
    assert small["time_local"].null_count == nulls == small["date"].null_count
    for t in (big, small):
        ts = t["timestamp"].to_numpy(zero_copy_only=False)
        local = t["time_local"].cast(pa.int64()).to_numpy(zero_copy_only=False)
        ok = ~np.isnan(ts)
        np.testing.assert_array_equal(local[ok], np.rint(ts[ok] * 1000).astype(np.int64))
        assert t.schema.field("time_local").type == pa.timestamp("ms", tz=TIMEZONE)
    with open(tiny_raw_dir / "big_matrix.csv", encoding="utf-8") as f:  # the raw local wall clock
        raw_times = [line.split(",")[4] for _, line in zip(range(200), f, strict=False)][1:]
    for text, local in zip(raw_times, big["time_local"].to_pylist(), strict=False):
        wall = local.astimezone(SH).replace(tzinfo=None)
        assert abs((wall - datetime.fromisoformat(text)).total_seconds()) < 1e-3, text
    cats = pq.read_table(tiny_tables / "item_categories.parquet")
    assert all(1 <= len(v) <= 4 for v in cats["feat"].to_pylist())
    cap = pq.read_table(tiny_tables / "kuairec_caption_category.parquet")
    assert cap.num_rows == cats.num_rows
    assert all(v is None or isinstance(v, list) for v in cap["topic_tag"].to_pylist())


def test_contract_schema_types():
    schema = contract_schema("big_matrix")
    assert schema.field("time_local").type == pa.timestamp("ms", tz=TIMEZONE)
    assert schema.field("timestamp").nullable and not schema.field("user_id").nullable


def test_copy_of_raw_is_not_needed(raw, tmp_path):
    """The loader reads a read-only folder in place (no writes next to the raw files)."""
    os.chmod(raw, 0o555)
    try:
        ingest_all(raw, tmp_path / "t")
    finally:
        os.chmod(raw, 0o755)
    shutil.rmtree(tmp_path / "t")


def test_duplicate_detection_is_exact(tiny_raw_dir):
    """The hash-based duplicate finder agrees with pandas' exact duplicated() on the tiny big matrix,
    including rows that differ in a single column."""
    from vmrec.ingest_duplicates import EXACT_DUPLICATE_KEYS, duplicate_mask

    big = read_table(tiny_raw_dir / "big_matrix.csv")
    extra = big.slice(0, 50)
    i = extra.schema.get_field_index("watch_ratio")
    tweaked = extra.set_column(i, extra.schema.field(i), pa.compute.add(extra["watch_ratio"], 1e-12))
    t = pa.concat_tables([big, extra, tweaked])
    expected = t.select(list(EXACT_DUPLICATE_KEYS)).to_pandas().duplicated(keep="first").to_numpy()
    got = duplicate_mask(t)
    assert expected.sum() >= 50
    np.testing.assert_array_equal(got, expected)


def test_block_wise_reading_matches_one_block(raw, tmp_path, monkeypatch):
    """Tiny blocks (a few lines each, some longer than a block) give the same table, csv_row and
    duplicate handling as one block, and errors still name the right line."""
    import vmrec.ingest_readers as readers

    whole = read_table(raw / "big_matrix.csv", duplicates="drop")
    monkeypatch.setattr(readers, "CHUNK_BYTES", 60)
    blocks = read_table(raw / "big_matrix.csv", duplicates="drop")
    assert blocks.equals(whole)
    msg, _ = _bad(tmp_path, "big_matrix.csv", BIG.replace("\n2,8228,140,", "\n2,8228,x140,", 1))
    assert "column 'play_duration'" in msg and "line 9" in msg
