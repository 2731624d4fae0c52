"""kdspeech.data.download: resume with HTTP Range, checksum verification, skip when present, extract."""

import hashlib
import http.server
import io
import tarfile
import threading

import pytest

from kdspeech.data.download import extract, fetch
from kdspeech.errors import KdError

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at any path, honouring 'Range: bytes=N-' (206) like OpenSLR's servers."""
    requests = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        rng = self.headers.get("Range")
        RangeHandler.requests.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        body = PAYLOAD[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    RangeHandler.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_download_resumes_a_partial_file_with_range(tmp_path, server):
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:1000])
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    path = fetch(f"{server}/a.bin", tmp_path, md5=md5)
    assert path == tmp_path / "a.bin" and path.read_bytes() == PAYLOAD
    assert RangeHandler.requests == ["bytes=1000-"]
    assert not (tmp_path / "a.bin.part").exists()
    # Present and verified: no request at all.
    fetch(f"{server}/a.bin", tmp_path, md5=md5)
    assert RangeHandler.requests == ["bytes=1000-"]


def test_checksum_mismatch_removes_the_partial_file_and_names_it(tmp_path, server):
    with pytest.raises(KdError, match="sha256 mismatch"):
        fetch(f"{server}/b.bin", tmp_path, sha256="0" * 64)
    assert not (tmp_path / "b.bin").exists() and not (tmp_path / "b.bin.part").exists()


def test_existing_file_with_wrong_checksum_is_an_error(tmp_path):
    (tmp_path / "c.bin").write_bytes(b"not it")
    with pytest.raises(KdError, match="wrong md5"):
        fetch("file:///nonexistent/c.bin", tmp_path, md5=hashlib.md5(PAYLOAD).hexdigest())


def test_file_url_resume_and_extract_tar_gz(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("LibriSpeech/dev-clean/1/2/1-2-0000.flac")
        info.size = len(PAYLOAD)
        tar.addfile(info, io.BytesIO(PAYLOAD))
    archive = src / "dev-clean.tar.gz"
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "dev-clean.tar.gz.part").write_bytes(archive.read_bytes()[:50])
    got = fetch(archive.as_uri(), dest, md5=hashlib.md5(archive.read_bytes()).hexdigest())
    assert got.read_bytes() == archive.read_bytes()
    extract(got, dest)
    assert (dest / "LibriSpeech/dev-clean/1/2/1-2-0000.flac").read_bytes() == PAYLOAD
    (dest / "LibriSpeech/dev-clean/1/2/1-2-0000.flac").unlink()
    extract(got, dest)  # marked as extracted: not unpacked again
    assert not (dest / "LibriSpeech/dev-clean/1/2/1-2-0000.flac").exists()


def test_archive_member_outside_dest_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(KdError, match="outside"):
        extract(archive, tmp_path / "dest")
    assert not (tmp_path / "evil.txt").exists()
