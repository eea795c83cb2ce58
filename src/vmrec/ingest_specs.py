"""How each raw KuaiRec CSV is parsed and validated: the file specs (header, per-column rules, unique
keys) and the Arrow schemas of the contract (vmrec.contracts.TABLE_COLUMNS). The files and their
formats: docs/data.md, "The release's files"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from vmrec.contracts import RAW_FILES, TABLE_COLUMNS

MATRIX_HEADER: tuple[str, ...] = (
    "user_id", "video_id", "play_duration", "video_duration", "time", "date", "timestamp", "watch_ratio",
)


class IngestError(ValueError):
    """A raw file does not have the expected format; the message says file, column, lines, values."""


# --- column specs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """How one CSV column is parsed and validated; output type/nullability come from contracts."""

    name: str
    kind: str = "auto"  # auto (from the contract type) | list_int | list_str | time
    min: float | None = None  # inclusive lower bound
    min_exclusive: bool = False
    max: float | None = None  # inclusive upper bound
    allowed: tuple[str, ...] | None = None  # allowed values of a string column (after null tokens)
    null_tokens: tuple[str, ...] = ()  # text values meaning "missing" (-> null)
    null_ints: tuple[int, ...] = ()  # integer codes meaning "missing" (-> null)


@dataclass(frozen=True)
class FileSpec:
    """One raw CSV: its header, per-column rules and table-level checks."""

    stem: str
    header: tuple[str, ...]
    cols: dict[str, Col] = field(default_factory=dict)
    unique: tuple[str, ...] = ()  # columns whose combination must be unique
    matrix: bool = False  # an interaction matrix: block-wise reading and derived time columns
    time_required: bool = False  # matrix only: time/date/timestamp may not be empty

    @property
    def file(self) -> str:
        return f"{self.stem}.csv"

    def col(self, name: str) -> Col:
        return self.cols.get(name, Col(name))


def _spec(stem: str, cols: Sequence[Col] = (), header: Sequence[str] | None = None, **kw) -> FileSpec:
    return FileSpec(stem, tuple(header or TABLE_COLUMNS[stem]), {c.name: c for c in cols}, **kw)


_NONNEG = {"min": 0}
_CAPTION_TEXT = ("manual_cover_text", "caption", "first_level_category_name",
                 "second_level_category_name", "third_level_category_name")
_CATEGORY_IDS = ("first_level_category_id", "second_level_category_id", "third_level_category_id")

SPECS: dict[str, FileSpec] = {
    s.stem: s
    for s in (
        _spec("big_matrix", header=MATRIX_HEADER, matrix=True, time_required=True),
        _spec("small_matrix", header=MATRIX_HEADER, matrix=True, time_required=False),
        _spec("social_network", [Col("user_id", **_NONNEG), Col("friend_list", "list_int", min=0)],
              unique=("user_id",)),
        _spec("item_categories", [Col("video_id", **_NONNEG), Col("feat", "list_int", min=0)],
              unique=("video_id",)),
        _spec(
            "user_features",
            [
                Col("user_id", **_NONNEG),
                Col("user_active_degree", null_tokens=("UNKNOWN",),
                    allowed=("high_active", "full_active", "middle_active")),
                *(Col(c, min=0, max=1) for c in ("is_lowactive_period", "is_live_streamer",
                                                 "is_video_author")),
                *(Col(c, **_NONNEG) for c in ("follow_user_num", "fans_user_num", "friend_user_num",
                                             "register_days")),
                *(Col(f"onehot_feat{k}", **_NONNEG) for k in range(18)),
            ],
            unique=("user_id",),
        ),
        _spec(
            "item_daily_features",
            [Col("video_id", **_NONNEG), Col("author_id", **_NONNEG),
             *(Col(c, null_tokens=("UNKNOWN",)) for c in ("video_type", "upload_type", "visible_status",
                                                          "video_tag_name"))],
            unique=("video_id", "date"),
        ),
        _spec(
            "kuairec_caption_category",
            [Col("video_id", **_NONNEG),
             *(Col(c, null_tokens=("UNKNOWN",)) for c in _CAPTION_TEXT),
             Col("topic_tag", "list_str", null_tokens=("UNKNOWN",)),
             *(Col(c, null_ints=(-124,), min=0) for c in _CATEGORY_IDS)],
            unique=("video_id",),
        ),
    )
}
assert {f"{s}.csv" for s in SPECS} == set(RAW_FILES), "every raw file needs a spec"

MATRIX_RULES: dict[str, Col] = {
    "user_id": Col("user_id", min=0),
    "video_id": Col("video_id", min=0),
    "play_duration": Col("play_duration", min=0),
    "video_duration": Col("video_duration", min=0, min_exclusive=True),
    "watch_ratio": Col("watch_ratio", min=0),
}
"""Value rules of the interaction matrices' plain columns (time columns are checked together)."""


# --- contract types --------------------------------------------------------------------------------
_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "float32": pa.float32(), "float64": pa.float64(), "string": pa.string(), "bool": pa.bool_(),
    "date32": pa.date32(),
}


def arrow_type(name: str) -> pa.DataType:
    """Arrow type of a contract type string (`int32`, `list<int8>`, `timestamp[ms, tz=...]`; no `?`)."""
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name.startswith("list<") and name.endswith(">"):
        return pa.list_(arrow_type(name[5:-1]))
    m = re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]", name)
    if m:
        return pa.timestamp(m.group(1), tz=m.group(2))
    raise ValueError(f"unknown contract type {name!r}")


def type_string(t: pa.DataType) -> str:
    """Inverse of arrow_type: the contract spelling of an Arrow type."""
    if pa.types.is_list(t):
        return f"list<{type_string(t.value_type)}>"
    if pa.types.is_date32(t):
        return "date32"
    return {"double": "float64", "float": "float32", "halffloat": "float16"}.get(str(t), str(t))


def contract_schema(stem: str) -> pa.Schema:
    """The Arrow schema (types and nullability) that the table `stem` must have."""
    return pa.schema(
        pa.field(name, arrow_type(t.rstrip("?")), nullable=t.endswith("?"))
        for name, t in TABLE_COLUMNS[stem].items()
    )


def schema_strings(schema: pa.Schema) -> dict[str, str]:
    """Contract strings ({column: 'type' or 'type?'}) of a schema, to compare with TABLE_COLUMNS."""
    return {f.name: type_string(f.type) + ("?" if f.nullable else "") for f in schema}

