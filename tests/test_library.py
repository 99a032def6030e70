"""The Documents tab's library in process (issue 30, items 3, 4, 5 and 7), over a small knowledge folder, a real
embedded Chroma store and the hashing embedder of fakes.py: what an upload unpacks to is bounded before it
is parsed, and parsing runs in a child process; a file that yields no passage is refused with the reason,
and every file of the folder is listed or listed as skipped, each one deletable and replaceable; a job killed
with SIGKILL mid-indexing is undone and shown failed with retry and remove, and no other job finishes it; a
deleted document comes back from .trash/. No test waits on a clock: a killed job is killed at a marker it
writes, and a timeout is one no child process can meet."""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, basic, docx_bytes, pdf_bytes
from fakes import HashEmbedder

from assistant.errors import InvalidUpload, LimitExceeded, UploadLimit
from assistant.ingest.indexer import ingest
from assistant.ingest.loaders import Limits, load

ALPHA = "# Alpha\n\nThe alpha brigade rebuilt seventeen bridges in the Tallow valley in 2029.\n"
KESTREL = b"# Operation Kestrel\n\nDuring Operation Kestrel the Varnish brigade rebuilt 17 bridges in the valley.\n"
ZEPHYR = b"# Operation Zephyr\n\nThe Quorvian liaison team delivered 4,212 water filters to Lake Ostrava.\n"


def open_library(settings, embedder=None):
    """A Library as the server makes one at start (recovery included), over the index in settings.store_dir."""
    from assistant.index.store import Segments, open_reader
    from assistant.ingest.library import Library
    from assistant.retrieval.hybrid import HybridRetriever

    embedder = embedder or HashEmbedder()
    retriever = HybridRetriever(lambda: open_reader(settings, embedder.name), embedder,
                                token=Segments(settings.store_dir).current_name)
    retriever.refresh()
    return Library(settings, SimpleNamespace(retriever=retriever))


@pytest.fixture
def shelf(tmp_path, make_settings):
    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    (kdir / "alpha.md").write_text(ALPHA, encoding="utf-8")
    settings = make_settings()
    ingest(settings, HashEmbedder())
    return SimpleNamespace(settings=settings, kdir=kdir, library=open_library(settings), tmp=tmp_path)


def visible_files(kdir: Path) -> list[str]:
    """The files of knowledge/ outside its hidden folders (the journal, the trash)."""
    return sorted(p.relative_to(kdir).as_posix() for p in kdir.rglob("*")
                  if p.is_file() and not any(x.startswith(".") for x in p.relative_to(kdir).parts))


def texts(library) -> str:
    return "\n".join(c.text for c in library._index()[1].values())


def outcome(library) -> str:
    assert library.wait(120)
    return library.status()["recent"][0]["outcome"]


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def bomb(mb: int = 52) -> bytes:
    """A real .docx whose document.xml carries `mb` MB of blanks in a comment: about 90 KB on the wire."""
    good = zipfile.ZipFile(io.BytesIO(docx_bytes("Bomb", ["A paragraph."])))
    parts = {i.filename: good.read(i.filename) for i in good.infolist()}
    parts["word/document.xml"] = parts["word/document.xml"].replace(
        b"</w:body>", b"<!--" + b" " * (mb * 2**20) + b"--></w:body>")
    return zipped(parts)


# ---- item 3: limits on what a file unpacks to, its pages and characters; parsing in a child process -------

def test_a_zip_bomb_docx_is_refused_before_it_is_parsed(shelf, monkeypatch):
    import assistant.ingest.uploads as uploads

    def never(*args, **kwargs):
        raise AssertionError("the bomb reached the parser")

    monkeypatch.setattr(uploads, "read_isolated", never)
    data = bomb()
    assert len(data) < 200_000
    before = visible_files(shelf.kdir)
    with pytest.raises(UploadLimit) as refused:
        shelf.library.upload("report.docx", data)
    assert refused.value.status == 413 and refused.value.limit == "CIMIC_MAX_PART_MB"
    assert "word/document.xml unpacks to 52 MB" in refused.value.message
    assert visible_files(shelf.kdir) == before and not (shelf.kdir / ".jobs").exists()


@pytest.mark.parametrize("limits,parts,limit", [
    (Limits(unpacked=3 * 2**20), {f"word/part{i}.xml": os.urandom(2**20) for i in range(4)}, "CIMIC_MAX_UNPACKED_MB"),
    (Limits(part=2**20), {"word/document.xml": os.urandom(2 * 2**20)}, "CIMIC_MAX_PART_MB"),
    (Limits(), {"word/document.xml": b"<a/>" * 2**20}, "CIMIC_MAX_COMPRESSION_RATIO"),
], ids=["total", "part", "ratio"])
def test_each_unpacking_limit_is_named_when_hit(tmp_path, limits, parts, limit):
    path = tmp_path / "x.docx"
    path.write_bytes(zipped(parts))
    with pytest.raises(LimitExceeded) as refused:
        load(path, limits)
    assert refused.value.limit == limit and limit in refused.value.reason


def test_pages_and_characters_are_bounded(tmp_path):
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(pdf_bytes(["One page of words.", "Another page of words.", "A third page of words."]))
    with pytest.raises(LimitExceeded, match="has 3 pages; the limit is 2 \\(CIMIC_MAX_PAGES\\)"):
        load(pdf, Limits(pages=2))
    assert len(load(pdf, Limits(pages=3)).pages) == 3
    text = tmp_path / "long.txt"
    text.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(LimitExceeded) as refused:
        load(text, Limits(chars=4000))
    assert refused.value.limit == "CIMIC_MAX_CHARS"


def test_a_bomb_dropped_into_the_folder_is_skipped_by_the_indexer_with_the_limit(shelf):
    (shelf.kdir / "bomb.docx").write_bytes(bomb())
    report = ingest(shelf.settings, HashEmbedder())
    assert [(f, "CIMIC_MAX_PART_MB" in why) for f, why in report.skipped] == [("bomb.docx", True)]
    skipped = shelf.library.documents()["skipped"]
    assert skipped[0]["file"] == "bomb.docx" and "CIMIC_MAX_PART_MB" in skipped[0]["reason"]


def test_parsing_runs_in_a_child_process_that_is_stopped_at_the_time_limit(shelf, make_settings):
    from assistant.ingest.uploads import read_isolated

    loaded, passages = read_isolated("kestrel.docx", docx_bytes("Operation Kestrel", ["The brigade rebuilt 17 bridges."]),
                                     tokens="words")
    assert loaded.title == "Operation Kestrel" and passages == 1
    hurried = open_library(make_settings(parse_timeout_s=0.001))  # no child process starts that fast
    with pytest.raises(UploadLimit) as refused:
        hurried.upload("kestrel.md", KESTREL)
    assert refused.value.limit == "CIMIC_PARSE_TIMEOUT_S" and refused.value.status == 413
    assert visible_files(shelf.kdir) == ["alpha.md"]


def test_the_web_edge_answers_a_limit_with_a_4xx_naming_it(shelf):
    from fastapi.testclient import TestClient

    from assistant.userdata.feedback import FeedbackStore
    from assistant.web.api import build_api
    from assistant.web.auth import Auth

    settings = shelf.settings
    app = build_api(shelf.library.assistant, [], settings, FeedbackStore(settings.feedback_db, spool_dir=shelf.tmp / "data"),
                    Auth("instructor:i-pass", instructors="instructor"), library=shelf.library)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/documents", headers=basic("instructor", "i-pass"), files={"file": ("report.docx", bomb())})
        assert r.status_code == 413 and "CIMIC_MAX_PART_MB" in r.json()["error"], r.text
        r = client.post("/api/documents", headers=basic("instructor", "i-pass"), files={"file": ("hi.txt", b"hello there")})
        assert r.status_code == 422 and "yields no passage" in r.json()["error"], r.text
        r = client.post("/api/index/jobs/nosuchjob/retry", headers=basic("instructor", "i-pass"))
        assert r.status_code == 404, r.text
        assert client.get("/api/trash", headers=basic("instructor", "i-pass")).json() == {"trash": []}


# ---- item 4: nothing is indexed to nothing; every file listed; every listed file deletable and replaceable --

@pytest.mark.parametrize("name,data,status,needle", [
    ("short.txt", b"Too short.", 422, "yields no passage to index: its text holds 2 words"),
    ("one-line.md", b"x" * 8 * 2**20, 413, "CIMIC_MAX_CHARS"),
    ("run.md", b"y" * 50_000, 422, "yields no passage to index"),
])
def test_an_upload_that_would_index_to_nothing_is_refused_with_the_reason(shelf, name, data, status, needle):
    with pytest.raises(InvalidUpload) as refused:
        shelf.library.upload(name, data)
    assert refused.value.status == status and needle in refused.value.message, refused.value.message
    assert visible_files(shelf.kdir) == ["alpha.md"]


def test_a_section_under_a_heading_ending_in_lower_case_is_indexed(shelf):
    shelf.library.upload("cell.md", b"# Notes on the liaison cell\n\nthe liaison cell meets the mayor every monday.\n")
    assert outcome(shelf.library) == "indexed: 1 chunks"
    assert "the liaison cell meets the mayor every monday." in texts(shelf.library)


def test_every_file_of_the_folder_is_listed_and_can_be_deleted_and_replaced(shelf):
    library, kdir = shelf.library, shelf.kdir
    (kdir / "stub.txt").write_text("Too short.", encoding="utf-8")  # indexed to nothing by a terminal ingest
    (kdir / "notes.rtf").write_text("{\\rtf1 notes}", encoding="utf-8")
    ingest(shelf.settings, HashEmbedder())
    (kdir / "late.md").write_bytes(ZEPHYR)  # dropped after the last ingest
    listing = library.documents()
    listed = {d["file"] for d in listing["documents"]} | {s["file"] for s in listing["skipped"]}
    assert listed == set(visible_files(kdir)) - {"sources.yaml"}
    reasons = {s["file"]: s["reason"] for s in listing["skipped"]}
    assert "no passage" in reasons["stub.txt"] and "not indexed yet" in reasons["late.md"]
    assert "unsupported" in reasons["notes.rtf"]

    library.upload("stub.txt", KESTREL.replace(b"#", b""), replace=True)  # replaced, with text this time
    assert outcome(library) == "replaced: 1 chunks"
    stub = next(d for d in library.documents()["documents"] if d["file"] == "stub.txt")
    library.upload("stub.txt", (kdir / "stub.txt").read_bytes(), replace=True)  # the same again: indexed again
    assert outcome(library) == "replaced: 1 chunks"
    for name in ("stub.txt", "notes.rtf", "late.md"):
        row = library.row(name)
        library.delete(row["doc_id"])
        assert outcome(library).startswith("deleted: ")
    assert visible_files(kdir) == ["alpha.md", "sources.yaml"] and library.documents()["skipped"] == []
    assert stub["doc_id"] not in {d["doc_id"] for d in library.documents()["documents"]}


# ---- item 5: journaled jobs; a crash is undone and shown failed with retry and remove ---------------------

CRASHING = '''
import sys, time
from pathlib import Path
sys.path[:0] = [{tests!r}]
from fakes import HashEmbedder
from test_library import open_library
from assistant.config import Settings


class Blocking(HashEmbedder):
    def embed(self, texts):
        if any("Kestrel" in t for t in texts):
            Path({marker!r}).write_text("embedding Kestrel")
            time.sleep(3600)  # killed here
        return super().embed(texts)


settings = Settings(_env_file=None, knowledge_dir={kdir!r}, store_dir={store!r}, feedback_db="sqlite://")
library = open_library(settings, Blocking())
library.upload("kestrel.md", {data!r}, {{"title": "Kestrel report"}})
library.wait(3600)
'''


def kill_mid_indexing(shelf) -> None:
    marker = shelf.tmp / "marker"
    script = shelf.tmp / "crashing.py"
    script.write_text(CRASHING.format(tests=str(ROOT / "tests"), marker=str(marker), kdir=str(shelf.kdir),
                                      store=str(shelf.settings.store_dir), data=KESTREL), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, "the indexing process ended before it was killed"
            assert time.monotonic() < deadline, "the indexing process never reached the embedder"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (shelf.kdir / "kestrel.md").exists() and "kestrel.md" in (shelf.kdir / "sources.yaml").read_text()


def test_a_job_killed_mid_indexing_is_undone_shown_failed_and_never_finished_by_another(shelf):
    kill_mid_indexing(shelf)
    library = open_library(shelf.settings)  # the server starting again
    [job] = library.status()["failed"]
    assert (job["action"], job["file"], job["actions"]) == ("upload", "kestrel.md", ["retry", "remove"])
    assert "interrupted while indexing" in job["outcome"]
    assert visible_files(shelf.kdir) == ["alpha.md", "sources.yaml"]
    assert "kestrel" not in (shelf.kdir / "sources.yaml").read_text()
    listing = library.documents()
    assert [d["file"] for d in listing["documents"]] == ["alpha.md"] and listing["skipped"] == []

    library.upload("zephyr.md", ZEPHYR)  # an unrelated job does not index it
    assert outcome(library) == "indexed: 1 chunks"
    assert "Quorvian" in texts(library) and "Kestrel" not in texts(library)

    library.retry(job["id"])
    assert library.wait(120) and library.job(job["id"])["outcome"] == "indexed: 1 chunks"
    assert "Kestrel" in texts(library) and library.status()["failed"] == []
    kestrel = next(d for d in library.documents()["documents"] if d["file"] == "kestrel.md")
    assert kestrel["title"] == "Kestrel report"
    assert sorted(p.name for p in (shelf.kdir / ".jobs").glob("*.json")) == []


def test_a_failed_job_is_undone_and_can_be_removed(shelf, monkeypatch):
    import assistant.ingest.library as library_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    library = shelf.library
    monkeypatch.setattr(library_module, "ingest", broken)
    library.upload("alpha.md", KESTREL, replace=True)
    assert outcome(library).startswith("failed: OSError: disk full; nothing of it was applied")
    assert (shelf.kdir / "alpha.md").read_text() == ALPHA  # the replaced file came back
    [job] = library.status()["failed"]
    done = library.remove(job["id"])
    assert done["state"] == "removed" and ".trash/" in done["outcome"]
    assert [t["file"] for t in library.trash()] == ["alpha.md"] and library.status()["failed"] == []
    with pytest.raises(InvalidUpload):
        library.retry(job["id"])


# ---- item 7: a way back from .trash/ ------------------------------------------------------------------

def test_a_deleted_document_is_restored_with_its_entry(shelf):
    library = shelf.library
    library.upload("kestrel.md", KESTREL, {"title": "Kestrel report", "author": "J. Doe"})
    assert outcome(library) == "indexed: 1 chunks"
    row = library.row("kestrel")
    library.delete(row["doc_id"])
    assert outcome(library).startswith("deleted: 1 chunks left the index")
    assert "Kestrel" not in texts(library) and not (shelf.kdir / "kestrel.md").exists()
    [item] = library.trash()
    assert (item["file"], item["title"]) == ("kestrel.md", "Kestrel report")

    library.restore(item["name"])
    assert outcome(library) == "restored: 1 chunks"
    back = library.row(row["doc_id"])
    assert (back["title"], back["author"], back["chunks"]) == ("Kestrel report", "J. Doe", 1)
    assert "Kestrel" in texts(library) and library.trash() == []

    library.delete(row["doc_id"])
    library.wait(120)
    (shelf.kdir / "kestrel.md").write_bytes(ZEPHYR)  # the name is taken again meanwhile
    with pytest.raises(InvalidUpload) as refused:
        library.restore(library.trash()[0]["name"])
    assert refused.value.status == 409
    with pytest.raises(Exception) as missing:
        library.restore("../sources.yaml")
    assert getattr(missing.value, "status", None) == 404


def pdf_with_stream(raw: bytes) -> bytes:
    """A one-page PDF whose content stream is `raw`, deflated."""
    import zlib

    packed = zlib.compress(raw, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize("mb,limit", [(30, "CIMIC_MAX_PART_MB"), (2, "CIMIC_MAX_COMPRESSION_RATIO")])
def test_a_pdf_whose_page_streams_unpack_too_far_is_refused_before_its_text_is_read(shelf, mb, limit):
    data = pdf_with_stream(b"BT /F1 12 Tf 72 720 Td (Hello world of words) Tj ET\n" + b" " * (mb * 2**20))
    with pytest.raises(UploadLimit) as refused:
        shelf.library.upload("report.pdf", data)
    assert refused.value.limit == limit and limit in refused.value.message
    assert visible_files(shelf.kdir) == ["alpha.md"]


def test_the_limits_defaults_are_the_settings_defaults(make_settings):
    assert Limits.of(make_settings()) == Limits()
