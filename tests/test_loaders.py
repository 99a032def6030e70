"""Each loader on a small file the test writes, and the broken files each must reject by name."""

import zipfile

import pytest

from assistant.errors import DocumentError
from assistant.ingest.loaders import load


def test_txt(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("Title\n\nSome body text here.\n", encoding="utf-8")
    loaded = load(p)
    assert "Some body text" in loaded.text and loaded.headings is None


def test_md_headings(tmp_path):
    p = tmp_path / "a.md"
    p.write_text("# Guide\n\nIntro.\n\n## Liaison\n\nLiaison officers meet weekly.\n\n```\n# not a heading\n```\n", encoding="utf-8")
    loaded = load(p)
    assert [(h.title, h.level) for h in loaded.headings] == [("Guide", 1), ("Liaison", 2)]
    assert loaded.title == "Guide"
    assert loaded.text[loaded.headings[1].start:].startswith("## Liaison")


def test_pdf_pages(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    p = tmp_path / "a.pdf"
    c = canvas.Canvas(str(p), pagesize=A4)
    c.drawString(72, 800, "Page one speaks of liaison officers.")
    c.showPage()
    c.drawString(72, 800, "Page two speaks of humanitarian corridors.")
    c.showPage()
    c.save()
    loaded = load(p)
    second = loaded.text.index("humanitarian corridors")
    assert loaded.page_at(0) == 1 and loaded.page_at(second) == 2


def test_docx_headings(tmp_path):
    import docx

    p = tmp_path / "a.docx"
    d = docx.Document()
    d.add_heading("Field guide", level=1)
    d.add_paragraph("CIMIC teams meet the mayor.")
    d.add_heading("Assessment", level=2)
    d.add_paragraph("The assessment covers water and power.")
    d.save(str(p))
    loaded = load(p)
    assert [h.title for h in loaded.headings] == ["Field guide", "Assessment"]
    assert "water and power" in loaded.text


def test_html_drops_furniture(tmp_path):
    p = tmp_path / "a.html"
    p.write_text("<html><head><title>Brief</title><script>alert(1)</script></head><body><nav>Home | About</nav>"
                 "<h1>Brief</h1><p>Coordination <b>matters</b>.</p><ul><li>one</li></ul><footer>Back to Top</footer></body></html>",
                 encoding="utf-8")
    loaded = load(p)
    assert loaded.title == "Brief"
    assert "Coordination matters." in loaded.text
    assert "alert" not in loaded.text and "Back to Top" not in loaded.text and "Home" not in loaded.text
    assert loaded.headings[0].title == "Brief"


@pytest.mark.parametrize("name,content,reason", [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"  \n\n ", "empty"),
    ("binary.txt", b"\x00\x01\x02" * 100, "binary"),
    ("corrupt.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ("notes.docx", None, "docx"),
    ("weird.xyz", b"data", "unsupported"),
])
def test_broken_files_are_named_and_explained(tmp_path, name, content, reason):
    p = tmp_path / name
    if content is None:  # a zip archive renamed .docx
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("hello.txt", "not a word document")
    else:
        p.write_bytes(content)
    with pytest.raises(DocumentError) as err:
        load(p)
    assert name in str(err.value) and reason.lower() in str(err.value).lower()


def test_invalid_utf8_is_read_safely_with_a_warning(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("Coopération civilo-militaire.".encode("latin-1"))
    loaded = load(p)
    assert "civilo-militaire" in loaded.text
    assert loaded.warnings and "UTF-8" in loaded.warnings[0] and "latin.txt" in loaded.warnings[0]
