"""Loaders per file format: .txt, .md, .pdf (pypdf), .docx (python-docx), .html (BeautifulSoup).

Each loader turns one file into `LoadedText` or raises `DocumentError` naming the file and what is
wrong with it; the indexer reports the error and goes on with the other files. Loaders read text
only: no OCR for scanned PDFs, no tables as tables, no images.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from assistant.errors import DocumentError
from assistant.documents import Heading, LoadedText

Loader = Callable[[Path], LoadedText]


def decode_text(path: Path, data: bytes) -> LoadedText:
    if b"\x00" in data[:8192]:
        raise DocumentError(str(path), "looks like a binary file, not text; convert it to .txt, .md, .pdf, .docx or .html")
    try:
        return LoadedText(text=data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        return LoadedText(text=text, warnings=[
            f"{path}: not valid UTF-8 (first bad byte at offset {exc.start}); {bad} undecodable byte(s) replaced by \ufffd"
        ])


def load_txt(path: Path) -> LoadedText:
    return decode_text(path, path.read_bytes())


_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_md(path: Path) -> LoadedText:
    loaded = decode_text(path, path.read_bytes())
    headings, offset, fenced = [], 0, False
    for line in loaded.text.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := _ATX.match(line.rstrip("\n"))):
            headings.append(Heading(offset, m.group(2), len(m.group(1))))
        offset += len(line)
    loaded.headings = headings
    loaded.title = headings[0].title if headings and headings[0].level == 1 else None
    return loaded


def load_pdf(path: Path) -> LoadedText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise DocumentError(str(path), "the PDF is encrypted; save an unprotected copy and ingest again")
        parts, pages, offset = [], [], 0
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            pages.append((offset, number))
            parts.append(text)
            offset += len(text) + 2
        title = (reader.metadata.title if reader.metadata else None) or None
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(str(path), f"not a readable PDF ({exc.__class__.__name__}: {exc})") from exc
    text = "\n\n".join(parts)
    if not text.strip():
        raise DocumentError(str(path), "the PDF has no extractable text (a scanned image?); OCR it first")
    return LoadedText(text=text, pages=pages, title=title)


def load_docx(path: Path) -> LoadedText:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(str(path), f"not a valid .docx file ({exc.__class__.__name__}); re-save it from Word or LibreOffice") from exc
    parts, headings, offset = [], [], 0
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style == "Title" or style.startswith("Heading"):
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            headings.append(Heading(offset, text, level))
        parts.append(text)
        offset += len(text) + 2
    title = document.core_properties.title or (headings[0].title if headings else None)
    return LoadedText(text="\n\n".join(parts), headings=headings, title=title or None)


_BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption"]
_DROP = ["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "template", "svg", "iframe"]


def load_html(path: Path) -> LoadedText:
    from bs4 import BeautifulSoup

    raw = decode_text(path, path.read_bytes())
    soup = BeautifulSoup(raw.text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    body = soup.body or soup
    parts, headings, offset = [], [], 0
    for el in body.find_all(_BLOCKS):
        if el.find_parent(_BLOCKS):
            continue  # its text is taken with the enclosing block
        text = " ".join(el.get_text("").split())
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            headings.append(Heading(offset, text, int(el.name[1:])))
        parts.append(text)
        offset += len(text) + 2
    return LoadedText(text="\n\n".join(parts), headings=headings, title=title or None, warnings=raw.warnings)


LOADERS: dict[str, Loader] = {
    ".txt": load_txt, ".md": load_md, ".markdown": load_md, ".pdf": load_pdf,
    ".docx": load_docx, ".html": load_html, ".htm": load_html,
}


def load(path: Path) -> LoadedText:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DocumentError(str(path), f"unsupported file type '{path.suffix}'; supported: {', '.join(sorted(LOADERS))}")
    loaded = loader(path)
    if not loaded.text.strip():
        raise DocumentError(str(path), "the file is empty or holds no text")
    return loaded
