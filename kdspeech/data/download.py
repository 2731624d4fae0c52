"""Download a corpus archive: resume partial downloads, verify a checksum, extract, skip when done.

``fetch(url, dest_dir, md5=..., sha256=...)`` downloads ``url`` into ``dest_dir/<name>.part`` and
renames it to ``dest_dir/<name>`` only after the checksum matched, so a finished name is always a
verified file.  An interrupted download restarts where the ``.part`` file ends (HTTP ``Range``); a
server that ignores the range (answers 200) makes it start over.  ``file://`` URLs work the same way
(tests, local mirrors).  ``extract(archive, dest_dir)`` unpacks tar / tar.gz / tgz / zip, refusing
members that would land outside ``dest_dir``, and marks completion with ``.<name>.extracted``.
"""

import hashlib
import logging
import os
import shutil
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from kdspeech.errors import KdError

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def file_digest(path, algo):
    h = hashlib.new(algo)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _expected(md5, sha256):
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None, None


def _open(url, start):
    """(response, resumed): a response positioned at ``start`` when the server honours Range."""
    if urllib.parse.urlparse(url).scheme == "file":
        handle = open(urllib.request.url2pathname(urllib.parse.urlparse(url).path), "rb")
        handle.seek(start)
        return handle, True
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    response = urllib.request.urlopen(request, timeout=60)
    return response, start > 0 and getattr(response, "status", 200) == 206


def fetch(url, dest_dir, md5=None, sha256=None, name=None, retries=3):
    """The verified file for ``url`` in ``dest_dir`` (downloaded, resumed or already there)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = name or os.path.basename(urllib.parse.urlparse(url).path)
    final, part = dest_dir / name, dest_dir / f"{name}.part"
    algo, want = _expected(md5, sha256)
    if final.exists():
        if algo and file_digest(final, algo) != want:
            raise KdError(f"existing file has the wrong {algo} (expected {want}); delete it to download again",
                          path=final)
        log.info("%s present, skipping the download", final)
        return final
    for attempt in range(1, retries + 1):
        start = part.stat().st_size if part.exists() else 0
        try:
            response, resumed = _open(url, start)
            with response, open(part, "ab" if resumed else "wb") as out:
                if start and not resumed:
                    log.info("server ignored the range request; downloading %s from the start", url)
                elif start:
                    log.info("resuming %s at byte %d", url, start)
                shutil.copyfileobj(response, out, CHUNK)
            break
        except OSError as err:  # URLError, connection reset, timeout
            if attempt == retries:
                raise KdError(f"download of {url} failed after {retries} attempts: {err}", path=part) from None
            log.warning("download of %s interrupted (%s), retrying", url, err)
    if algo:
        got = file_digest(part, algo)
        if got != want:
            part.unlink()
            raise KdError(f"{algo} mismatch for {url}: got {got}, expected {want}; partial file removed",
                          path=final)
    os.replace(part, final)
    return final


def _safe_members(names, dest_dir):
    root = Path(dest_dir).resolve()
    for member in names:
        target = (root / member).resolve()
        if target != root and root not in target.parents:
            raise KdError(f"archive member {member!r} would be written outside {root}")


def extract(archive, dest_dir):
    """Unpack ``archive`` into ``dest_dir`` once (a ``.<name>.extracted`` marker records it)."""
    archive, dest_dir = Path(archive), Path(dest_dir)
    marker = dest_dir / f".{archive.name}.extracted"
    if marker.exists():
        log.info("%s already extracted", archive)
        return dest_dir
    dest_dir.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            _safe_members(z.namelist(), dest_dir)
            z.extractall(dest_dir)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            _safe_members(t.getnames(), dest_dir)
            t.extractall(dest_dir, filter="data")
    else:
        raise KdError("not a tar or zip archive", path=archive)
    marker.write_text(f"{archive.name}\n")
    return dest_dir
