"""The dataset catalogue, offline: archives built from ../shared data served on a loopback HTTP server
(127.0.0.1 only). Interrupted downloads resume with HTTP Range, bad checksums and unverifiable files are
refused, archive members escaping the target are refused, and the fetched folder is read by its reader."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from saliency.catalogue import fetch, get_entry, load_catalogue
from saliency.catalogue.download import DownloadError, download
from saliency.catalogue.entries import RemoteFile
from saliency.catalogue.extract import ArchiveError, extract_archive
from saliency.errors import ChecksumError, ConfigError


class _Server:
    """Serves ``files`` (path → bytes) with Range support; paths in ``cut`` send half the body on their first
    full request and then drop the connection. ``ranges`` records every Range header received."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.ranges: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                data = outer.files.get(self.path)
                rng = self.headers.get("Range")
                outer.ranges.append((self.path, rng))
                if data is None:
                    self.send_error(404)
                    return
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(data) and rng:
                    self.send_response(416)
                    self.end_headers()
                    return
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if self.path in outer.cut and not rng:
                    outer.cut.discard(self.path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = _Server()
    yield s
    s.close()


def _sod_tar(datasets_dir: Path, n: int = 3) -> bytes:
    """A tar.gz of n SOD images and masks under sod-mini/ (images/, masks/)."""
    buf = io.BytesIO()
    names = sorted(p.stem for p in (datasets_dir / "sod" / "masks").glob("*.png"))[:n]
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for s in names:
            img = next((datasets_dir / "sod" / "images").glob(f"{s}.*"))
            tf.add(img, arcname=f"sod-mini/images/{img.name}")
            tf.add(datasets_dir / "sod" / "masks" / f"{s}.png", arcname=f"sod-mini/masks/{s}.png")
    return buf.getvalue()


def _md5(b: bytes) -> str:
    return hashlib.md5(b, usedforsecurity=False).hexdigest()


def _sod_entry(name: str, url: str, data: bytes) -> str:
    """A catalogue table for a served SOD tar.gz (images/ + masks/ under sod-mini/), MD5-pinned."""
    return (f'[{name}]\ntitle = "SOD images"\nkind = "sod"\nreader = "sod"\nreader_path = "sod-mini"\n'
            f'[[{name}.files]]\nurl = "{url}"\nmd5 = "{_md5(data)}"\nextract = true\n')


def _catalogue(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "catalogue.toml"
    p.write_text(text)
    return p


def test_repository_catalogue_names_the_datasets_and_states_unknowns() -> None:
    cat = load_catalogue()
    assert {"mit1003", "osie", "cat2000-train", "toronto", "doves", "sod", "figrim"} <= set(cat)
    for e in cat.values():
        assert e.citation and e.page and e.licence and e.facts_from
        for f in e.files:
            assert f.url.startswith(("http://", "https://"))
            assert f.sha256 is None                     # no publisher states one: unknown, not invented
            assert f.md5 is None or len(f.md5) == 32
    assert cat["osie"].reader == "nus" and cat["osie"].unverified        # the branch archive
    assert not cat["doves"].fetchable and "password" in cat["doves"].not_fetchable
    with pytest.raises(ConfigError, match="password"):
        fetch(cat["doves"], "/nonexistent")


def test_interrupted_download_resumes_with_range(server: _Server, tmp_path: Path, datasets_dir: Path) -> None:
    data = _sod_tar(datasets_dir)
    server.files["/sod-mini.tar.gz"] = data
    server.cut.add("/sod-mini.tar.gz")
    f = RemoteFile(server.url + "/sod-mini.tar.gz", sha256=hashlib.sha256(data).hexdigest())
    # one try: interrupted, the part file is kept
    with pytest.raises(DownloadError, match="interrupted"):
        download(f, tmp_path, retries=1)
    part = tmp_path / "sod-mini.tar.gz.part"
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    # the next call asks for the rest only and verifies the whole
    got = download(f, tmp_path, retries=1)
    assert got.resumed_from == kept
    assert server.ranges[-1] == ("/sod-mini.tar.gz", f"bytes={got.resumed_from}-")
    assert got.path.read_bytes() == data and got.verified_by == "sha256" and not part.exists()


def test_one_fetch_call_retries_and_resumes(server: _Server, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096
    server.files["/big.bin"] = data
    server.cut.add("/big.bin")
    got = download(RemoteFile(server.url + "/big.bin", md5=_md5(data)), tmp_path, retries=2)
    assert got.path.read_bytes() == data
    assert [r for p, r in server.ranges if p == "/big.bin"] == [None, f"bytes={len(data) // 2}-"]


def test_bad_checksum_is_refused_and_deleted(server: _Server, tmp_path: Path) -> None:
    server.files["/x.bin"] = b"hello" * 1000
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        download(RemoteFile(server.url + "/x.bin", md5="0" * 32), tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(ChecksumError, match="allow-unverified"):
        download(RemoteFile(server.url + "/x.bin"), tmp_path)
    got = download(RemoteFile(server.url + "/x.bin"), tmp_path, allow_unverified=True)
    assert got.verified_by == "unverified" and got.md5 == _md5(b"hello" * 1000)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_archives_escaping_the_target_are_refused(tmp_path: Path, member: str) -> None:
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr(member, "evil")
    with pytest.raises(ArchiveError, match="outside the target"):
        extract_archive(z, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.txt").exists() and not (tmp_path / "evil.txt").exists()
    t = tmp_path / "evil.tar"
    with tarfile.open(t, "w") as tf:
        info = tarfile.TarInfo(member)
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(ArchiveError, match="outside the target"):
        extract_archive(t, tmp_path / "out2")


def test_tar_links_are_refused(tmp_path: Path) -> None:
    t = tmp_path / "link.tar"
    with tarfile.open(t, "w") as tf:
        info = tarfile.TarInfo("inside")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(ArchiveError, match="link"):
        extract_archive(t, tmp_path / "out")


def test_fetch_catalogue_entry_then_read_it(server: _Server, tmp_path: Path, datasets_dir: Path) -> None:
    from saliency.readers.sod import SODMasks

    data = _sod_tar(datasets_dir)
    server.files["/sod-mini.tar.gz"] = data
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    server.files["/evil.zip"] = evil.getvalue()
    cat = load_catalogue(_catalogue(tmp_path, _sod_entry("sod-mini", f"{server.url}/sod-mini.tar.gz", data) + f'''
[evil]
title = "escapes"
[[evil.files]]
url = "{server.url}/evil.zip"
md5 = "{_md5(evil.getvalue())}"
extract = true
'''))
    res = fetch(get_entry("sod-mini", cat), tmp_path / "data")
    assert not res.cached and res.folder == tmp_path / "data" / "sod-mini"
    assert len(SODMasks(res.reader_path).stimuli) == 3
    assert res.files[0]["sha256"] == hashlib.sha256(data).hexdigest() and res.files[0]["verified_by"] == "md5"
    n_requests = len(server.ranges)
    again = fetch(get_entry("sod-mini", cat), tmp_path / "data")
    assert again.cached and len(server.ranges) == n_requests            # nothing downloaded again
    with pytest.raises(ArchiveError, match="outside the target"):
        fetch(get_entry("evil", cat), tmp_path / "data")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "data" / "escape.txt").exists()


def test_cache_root_honours_saliency_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from saliency.catalogue import cache_root

    monkeypatch.setenv("SALIENCY_DATA", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    monkeypatch.delenv("SALIENCY_DATA")
    assert cache_root().name == "datasets" and "saliency" in str(cache_root())


def test_cli_fetch_logs_plain_lines_off_a_terminal(server: _Server, tmp_path: Path, datasets_dir: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    import json

    from saliency.cli.app import main

    data = _sod_tar(datasets_dir, 2)
    server.files["/m.tar.gz"] = data
    cat = _catalogue(tmp_path, _sod_entry("m", f"{server.url}/m.tar.gz", data) + f'''
[u]
title = "no checksum"
[[u.files]]
url = "{server.url}/m.tar.gz"
''')
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "fetch", "m", "--to", str(tmp_path / "d"), "--catalogue", str(cat)])
    assert exc.value.code == 0
    out = capsys.readouterr()
    assert "download 1/1" in out.err and "(100 %)" in out.err and "\x1b" not in out.err
    assert "saliency evaluate PREDICTIONS --sod" in out.out
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "fetch", "u", "--to", str(tmp_path / "d"), "--catalogue", str(cat)])
    assert exc.value.code == 3 and "allow-unverified" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "info", "m", "--json", "--catalogue", str(cat)])
    assert exc.value.code == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["sha256"] == "unknown"


def test_run_fetch_points_the_pipeline_at_the_fetched_folder(server: _Server, tmp_path: Path, datasets_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from saliency.pipeline import load_pipeline
    from saliency.pipeline.fetching import ensure_dataset

    data = _sod_tar(datasets_dir, 2)
    server.files["/sod.tar.gz"] = data
    cat = _catalogue(tmp_path, _sod_entry("sod", f"{server.url}/sod.tar.gz", data) + f'''
[osie]
title = "read by another reader"
reader = "none"
[[osie.files]]
url = "{server.url}/sod.tar.gz"
md5 = "{_md5(data)}"
''')
    monkeypatch.setenv("SALIENCY_DATA", str(tmp_path / "cache"))
    root = Path(__file__).resolve().parents[2] / "pipelines"
    spec = load_pipeline(root / "sod.toml", data_root=tmp_path / "empty")
    fetched = ensure_dataset(spec, catalogue=cat)
    assert Path(fetched.settings["train"]["path"]) == tmp_path / "cache" / "sod" / "sod-mini"
    assert (Path(fetched.settings["train"]["path"]) / "masks").is_dir()
    present = load_pipeline(root / "sod.toml", data_root=datasets_dir)
    assert ensure_dataset(present, catalogue=cat) is present          # folder exists: nothing fetched
    osie = load_pipeline(root / "osie.toml", data_root=tmp_path / "empty")
    with pytest.raises(ConfigError, match="read by 'none'"):
        ensure_dataset(osie, catalogue=cat)
