"""Fetch the real KuaiRec 2.0 release (Zenodo) into `kuairec_dir`, unless the seven CSVs are already there.

The official `KuaiRec.zip` (docs/data.md, "The release's files") is streamed to a temp file with a
progress bar, its size and MD5 are checked, and the seven CSVs are extracted from `KuaiRec 2.0/data/`
(or the older `KuaiRec/data/`) into `kuairec_dir`, each renamed into place only when complete and then
made read-only. Offline, it fails after a short connect timeout and says where to put the files by hand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from vmrec.contracts import RAW_FILES

log = logging.getLogger(__name__)

KUAIREC_URL = "https://zenodo.org/api/records/18164998/files/KuaiRec.zip/content"
KUAIREC_SIZE = 431_964_858
KUAIREC_MD5 = "261550d472c48eff4990fb13c0e5bcf7"
ZIP_DATA_DIRS = ("KuaiRec 2.0/data/", "KuaiRec/data/")
"""Folders of the CSVs inside the zip: the current release, then the layout of older docs."""
CONNECT_TIMEOUT_S = 10.0
"""Socket timeout (connect and each read): offline, the step fails after this long, not minutes."""


class DownloadError(RuntimeError):
    """KuaiRec could not be fetched or verified; the message says how to place the files by hand."""


def missing_files(raw_dir: str | Path) -> list[str]:
    """The raw KuaiRec files not (yet) present in `raw_dir`."""
    raw_dir = Path(raw_dir)
    return [f for f in RAW_FILES if not (raw_dir / f).is_file()]


def manual_instructions(raw_dir: str | Path, url: str = KUAIREC_URL) -> str:
    """Where to put the files by hand (the resolved folder and the file names)."""
    return (f"download {url} (KuaiRec.zip, {KUAIREC_SIZE:,} bytes, MD5 {KUAIREC_MD5}) yourself, unzip it "
            f"and put the seven CSVs of 'KuaiRec 2.0/data/' into {Path(raw_dir).resolve()}/ : "
            f"{', '.join(RAW_FILES)}")


def fetch(url: str, dest: Path, expected_size: int | None = None, expected_md5: str | None = None,
          timeout: float = CONNECT_TIMEOUT_S, chunk: int = 1 << 20) -> str:
    """Stream `url` to `dest` with a progress bar; check size and MD5; return the MD5 (hex)."""
    md5 = hashlib.md5()
    n = 0
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        total = resp.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else expected_size
        with tqdm(total=total, unit="B", unit_scale=True, desc="KuaiRec.zip") as bar:
            while True:
                buf = resp.read(chunk)
                if not buf:
                    break
                out.write(buf)
                md5.update(buf)
                n += len(buf)
                bar.update(len(buf))
    digest = md5.hexdigest()
    if expected_size is not None and n != expected_size:
        raise DownloadError(f"{url}: expected {expected_size:,} bytes, received {n:,} "
                            f"(interrupted download?)")
    if expected_md5 is not None and digest != expected_md5.lower():
        raise DownloadError(f"{url}: MD5 mismatch: expected {expected_md5}, got {digest} ({n:,} bytes); "
                            f"the file is corrupt or not the KuaiRec 2.0 release")
    return digest


def extract_csvs(zip_path: str | Path, raw_dir: str | Path) -> list[Path]:
    """Extract the seven CSVs from the release zip into `raw_dir` (atomically, read-only)."""
    raw_dir = Path(raw_dir)
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        prefix = next((p for p in ZIP_DATA_DIRS if all(p + f in names for f in RAW_FILES)), None)
        if prefix is None:
            found = sorted(n for n in names if n.endswith(".csv"))[:20]
            raise DownloadError(f"{zip_path}: expected the seven CSVs under one of {list(ZIP_DATA_DIRS)}; "
                                f"found CSVs {found}")
        raw_dir.mkdir(parents=True, exist_ok=True)
        placed = []
        for f in RAW_FILES:
            target = raw_dir / f
            fd, tmp = tempfile.mkstemp(prefix=f".{f}.", suffix=".tmp", dir=raw_dir)
            try:
                with zf.open(prefix + f) as src, os.fdopen(fd, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # raw data is read-only
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            placed.append(target)
            log.info("placed %s (%d bytes)", target, target.stat().st_size)
    return placed


def ensure_kuairec(raw_dir: str | Path, url: str = KUAIREC_URL, md5: str | None = KUAIREC_MD5,
                   size: int | None = KUAIREC_SIZE, timeout: float = CONNECT_TIMEOUT_S) -> list[Path]:
    """Make sure the seven KuaiRec CSVs are in `raw_dir`: fetch, verify and unpack the zip if any is missing.

    `url`, `md5` and `size` default to the official release (overridable for tests and mirrors).
    Raises DownloadError with manual instructions when offline or when the zip fails verification."""
    raw_dir = Path(raw_dir)
    missing = missing_files(raw_dir)
    if not missing:
        log.info("KuaiRec: all seven files present in %s", raw_dir.resolve())
        return [raw_dir / f for f in RAW_FILES]
    log.info("KuaiRec: %s missing in %s; fetching %s", missing, raw_dir.resolve(), url)
    raw_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".KuaiRec.zip.", suffix=".part", dir=raw_dir)
    os.close(fd)
    zip_path = Path(tmp)
    try:
        try:
            digest = fetch(url, zip_path, expected_size=size, expected_md5=md5, timeout=timeout)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise DownloadError(f"cannot fetch KuaiRec from {url} ({reason}); missing files {missing}. "
                                f"To run offline, {manual_instructions(raw_dir, url)}") from None
        except DownloadError as e:
            raise DownloadError(f"{e}. {manual_instructions(raw_dir, url)}") from None
        log.info("KuaiRec: downloaded %d bytes, MD5 %s", zip_path.stat().st_size, digest)
        try:
            return extract_csvs(zip_path, raw_dir)
        except zipfile.BadZipFile as e:
            raise DownloadError(f"{url}: not a valid zip ({e}). "
                                f"{manual_instructions(raw_dir, url)}") from None
    finally:
        zip_path.unlink(missing_ok=True)
