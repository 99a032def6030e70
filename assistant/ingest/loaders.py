"""Loaders per file format: .txt, .md, .pdf (pypdf), .docx (python-docx), .html (BeautifulSoup).

Each loader turns one file into `LoadedText` or raises `DocumentError` naming the file and what is
wrong with it; the indexer reports the error and goes on with the other files. Loaders read text
only: no OCR for scanned PDFs, no tables as tables, no images.

`Limits` bound what a file may cost before it is parsed: a .docx is a zip, and its central directory
says what each part unpacks to (Python's zipfile never yields more than a part declares, and a part
that lies fails its CRC), so a zip bomb is refused from the directory alone, by its total, by its
largest part or by its compression ratio; a PDF's page count is read, and its page streams unpacked
(pypdf stopping any one stream at the per-part limit), before any text is extracted; the characters
are counted as the text is read. Going over a limit raises `LimitExceeded` naming the setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from assistant.errors import DocumentError, LimitExceeded
from assistant.documents import Heading, LoadedText

MB = 2**20
MAX_PARTS = 10_000  # parts of a .docx; a real document has tens
RATIO_FLOOR = MB  # a part (or a PDF's page streams) unpacking to less than this is never a bomb, whatever its ratio


@dataclass(frozen=True)
class Limits:
    """What one file may unpack to, in all and per part, its compression ratio, its pages and characters.
    The defaults are the settings' (config.py); `Limits.of(settings)` reads them."""

    unpacked: int = 100 * MB
    part: int = 25 * MB
    ratio: float = 100.0
    pages: int = 2000
    chars: int = 3_000_000

    @classmethod
    def of(cls, settings) -> "Limits":
        return cls(unpacked=int(settings.max_unpacked_mb * MB), part=int(settings.max_part_mb * MB),
                   ratio=float(settings.max_compression_ratio), pages=int(settings.max_pages), chars=int(settings.max_chars))


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB" if n < 10 * MB else f"{n / MB:.0f} MB"


def _over_chars(path: Path, limits: Limits, read: int) -> LimitExceeded:
    return LimitExceeded(str(path), f"holds more than {limits.chars:,} characters of text ({read:,} read); the limit is "
                                    f"{limits.chars:,} (CIMIC_MAX_CHARS): split it", "CIMIC_MAX_CHARS")


def check_zip(path: Path, limits: Limits, data=None) -> None:
    """What a zip-based file (a .docx) unpacks to, from its central directory, before anything is unpacked;
    `data`: its bytes as a file object, when it is not at `path` (yet)."""
    import zipfile

    try:
        with zipfile.ZipFile(data if data is not None else path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(str(path), f"not a valid {path.suffix} file ({exc.__class__.__name__}); re-save it from "
                                       "Word or LibreOffice") from exc
    if len(parts) > MAX_PARTS:
        raise LimitExceeded(str(path), f"holds {len(parts):,} parts; a document holds at most {MAX_PARTS:,}", "parts")
    total = 0
    for part in parts:
        size = part.file_size
        if size > limits.part:
            raise LimitExceeded(str(path), f"its part {part.filename} unpacks to {_mb(size)}; the limit per part is "
                                           f"{_mb(limits.part)} (CIMIC_MAX_PART_MB)", "CIMIC_MAX_PART_MB")
        if size > RATIO_FLOOR and size > limits.ratio * max(part.compress_size, 1):
            raise LimitExceeded(str(path), f"its part {part.filename} is compressed {size / max(part.compress_size, 1):,.0f} "
                                           f"to 1 ({_mb(size)} from {part.compress_size:,} bytes); the limit is "
                                           f"{limits.ratio:,.0f} to 1 (CIMIC_MAX_COMPRESSION_RATIO): a zip bomb?",
                                "CIMIC_MAX_COMPRESSION_RATIO")
        total += size
        if total > limits.unpacked:
            raise LimitExceeded(str(path), f"unpacks to more than {_mb(limits.unpacked)}; the limit is {_mb(limits.unpacked)} "
                                           "(CIMIC_MAX_UNPACKED_MB)", "CIMIC_MAX_UNPACKED_MB")


Loader = Callable[[Path, Limits], LoadedText]


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


def load_txt(path: Path, limits: Limits) -> LoadedText:
    return decode_text(path, path.read_bytes())


_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_md(path: Path, limits: Limits) -> LoadedText:
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


def load_pdf(path: Path, limits: Limits) -> LoadedText:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PdfReadError

    streams = {k: limits.part for k in ("zlib_maximum_output_length", "lzw_maximum_output_length",
                                        "run_length_maximum_output_length", "array_based_stream_maximum_output_length",
                                        "brotli_maximum_output_length", "jbig2_maximum_output_length")}
    try:
        with apply_configuration(**streams):
            reader = PdfReader(str(path))
            if reader.is_encrypted:
                raise DocumentError(str(path), "the PDF is encrypted; save an unprotected copy and ingest again")
            count = len(reader.pages)
            if count > limits.pages:
                raise LimitExceeded(str(path), f"has {count:,} pages; the limit is {limits.pages:,} (CIMIC_MAX_PAGES): "
                                               "split it", "CIMIC_MAX_PAGES")
            unpacked = 0  # what the pages' content streams unpack to, before any text is extracted
            for page in reader.pages:
                contents = page.get_contents()
                unpacked += len(contents.get_data()) if contents is not None else 0
                if unpacked > limits.unpacked:
                    raise LimitExceeded(str(path), f"its pages unpack to more than {_mb(limits.unpacked)}; the limit is "
                                                   f"{_mb(limits.unpacked)} (CIMIC_MAX_UNPACKED_MB)", "CIMIC_MAX_UNPACKED_MB")
            size = path.stat().st_size
            if unpacked > RATIO_FLOOR and unpacked > limits.ratio * size:
                raise LimitExceeded(str(path), f"its pages unpack to {_mb(unpacked)} from a file of {size:,} bytes "
                                               f"({unpacked / size:,.0f} to 1); the limit is {limits.ratio:,.0f} to 1 "
                                               "(CIMIC_MAX_COMPRESSION_RATIO)", "CIMIC_MAX_COMPRESSION_RATIO")
            parts, pages, offset = [], [], 0
            for number, page in enumerate(reader.pages, start=1):
                text = (page.extract_text() or "").strip()
                pages.append((offset, number))
                parts.append(text)
                offset += len(text) + 2
                if offset > limits.chars:
                    raise _over_chars(path, limits, offset)
            title = (reader.metadata.title if reader.metadata else None) or None
    except DocumentError:
        raise
    except LimitReachedError as exc:
        raise LimitExceeded(str(path), f"a stream unpacks to more than {_mb(limits.part)}, the limit per part "
                                       f"(CIMIC_MAX_PART_MB) ({exc})", "CIMIC_MAX_PART_MB") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(str(path), f"not a readable PDF ({exc.__class__.__name__}: {exc})") from exc
    text = "\n\n".join(parts)
    if not text.strip():
        raise DocumentError(str(path), "the PDF has no extractable text (a scanned image?); OCR it first")
    return LoadedText(text=text, pages=pages, title=title)


def load_docx(path: Path, limits: Limits) -> LoadedText:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(path, limits)  # before python-docx unpacks anything
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
        if offset > limits.chars:
            raise _over_chars(path, limits, offset)
    title = document.core_properties.title or (headings[0].title if headings else None)
    return LoadedText(text="\n\n".join(parts), headings=headings, title=title or None)


_BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption"]
_DROP = ["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "template", "svg", "iframe"]


def load_html(path: Path, limits: Limits) -> LoadedText:
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


def load(path: Path, limits: Limits | None = None) -> LoadedText:
    """The file's text (and headings, pages, title), within `limits` (the defaults when not given)."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DocumentError(str(path), f"unsupported file type '{path.suffix}'; supported: {', '.join(sorted(LOADERS))}")
    limits = limits or Limits()
    loaded = loader(path, limits)
    if len(loaded.text) > limits.chars:
        raise _over_chars(path, limits, len(loaded.text))
    if not loaded.text.strip():
        raise DocumentError(str(path), "the file is empty or holds no text")
    return loaded
