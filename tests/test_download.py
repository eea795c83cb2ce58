"""download_kuairec without network: a local zip over file:// and over http on 127.0.0.1, both zip
layouts, a bad MD5, a truncated download, and an unreachable URL (connection refused)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

from vmrec.contracts import RAW_FILES
from vmrec.download import DownloadError, ensure_kuairec, missing_files


def _make_zip(path: Path, prefix: str = "KuaiRec 2.0/data/") -> tuple[str, int]:
    """A zip laid out like the release (plus the extras it ships); return its MD5 and size."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in RAW_FILES:
            zf.writestr(prefix + f, f"content of {f}\n" * 100)
        zf.writestr(prefix.split("/")[0] + "/figs/readme.txt", "not a csv")
    data = path.read_bytes()
    return hashlib.md5(data).hexdigest(), len(data)


@pytest.fixture
def release(tmp_path) -> tuple[Path, str, int]:
    z = tmp_path / "srv" / "KuaiRec.zip"
    z.parent.mkdir()
    md5, size = _make_zip(z)
    return z, md5, size


@pytest.fixture
def http_url(release):
    """Serve the release zip from an http.server on 127.0.0.1 (a thread, stopped after the test)."""
    z, _, _ = release
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(z.parent))
    handler.log_message = lambda *a, **k: None  # keep the test output quiet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{z.name}"
    server.shutdown()
    server.server_close()


def _check_placed(raw: Path) -> None:
    assert missing_files(raw) == []
    for f in RAW_FILES:
        assert (raw / f).read_text() == f"content of {f}\n" * 100
        assert not (raw / f).stat().st_mode & 0o222, "raw files must be read-only"
    assert sorted(p.name for p in raw.iterdir()) == sorted(RAW_FILES), "temp files left behind"


def test_file_url(release, tmp_path):
    z, md5, size = release
    raw = tmp_path / "kuairec" / "KuaiRec 2.0" / "data"
    placed = ensure_kuairec(raw, url=z.as_uri(), md5=md5, size=size)
    assert [p.name for p in placed] == list(RAW_FILES)
    _check_placed(raw)


def test_http_url(release, http_url, tmp_path):
    _, md5, size = release
    raw = tmp_path / "raw"
    ensure_kuairec(raw, url=http_url, md5=md5, size=size)
    _check_placed(raw)


def test_older_zip_layout(tmp_path):
    z = tmp_path / "old.zip"
    md5, size = _make_zip(z, prefix="KuaiRec/data/")
    raw = tmp_path / "raw"
    ensure_kuairec(raw, url=z.as_uri(), md5=md5, size=size)
    _check_placed(raw)


def test_present_files_are_not_fetched(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in RAW_FILES:
        (raw / f).write_text("mine")
    # an unusable URL proves that nothing is fetched
    placed = ensure_kuairec(raw, url="http://127.0.0.1:9/none.zip", md5="0" * 32)
    assert len(placed) == 7 and (raw / RAW_FILES[0]).read_text() == "mine"


def test_bad_md5(release, http_url, tmp_path):
    _, _, size = release
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError) as e:
        ensure_kuairec(raw, url=http_url, md5="0" * 32, size=size)
    msg = str(e.value)
    assert "MD5 mismatch" in msg and "0" * 32 in msg and str(raw.resolve()) in msg
    assert missing_files(raw) == list(RAW_FILES)
    assert list(raw.iterdir()) == [], "a failed download left files behind"


def test_truncated_download(release, tmp_path):
    z, md5, size = release
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError, match=f"expected {size + 10:,} bytes"):
        ensure_kuairec(raw, url=z.as_uri(), md5=md5, size=size + 10)
    assert list(raw.iterdir()) == []


def test_wrong_zip_content(tmp_path):
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("something/else.csv", "x")
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError, match="KuaiRec 2.0/data/"):
        ensure_kuairec(raw, url=z.as_uri(), md5=None, size=None)
    assert list(raw.iterdir()) == []


def test_unreachable_url_fails_fast_with_instructions(tmp_path):
    with socket.socket() as s:  # a port with nobody listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    raw = tmp_path / "kuairec" / "KuaiRec 2.0" / "data"
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        ensure_kuairec(raw, url=f"http://127.0.0.1:{port}/KuaiRec.zip", timeout=2)
    assert time.monotonic() - t0 < 5
    msg = str(e.value)
    assert "cannot fetch KuaiRec" in msg and str(raw.resolve()) in msg
    assert all(f in msg for f in RAW_FILES)
    assert list(raw.iterdir()) == []
