"""What a file sent from the page or the API must pass before anything is written to knowledge/.

`check_upload(name, data, ...)` returns the loaded text (so its title and pages are known) or raises
`InvalidUpload` naming what was wrong, with an HTTP status: a name that could leave the folder or hide
in it (400), a type the indexer does not read or content that is not what its name says (415), too large
(413), empty, unreadable or without text (422), the same content already present (409). The type is
judged by content: the `filetype` library recognises binary formats by their signature, so a PDF named
.txt or an executable named .pdf is refused; text formats must be text (no NUL bytes, no known binary
signature). The file is parsed with the indexer's own loader from a temporary copy outside knowledge/.
Leaves out: virus scanning, OCR.
"""

from __future__ import annotations

import hashlib
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import DocumentError, InvalidUpload
from assistant.documents import LoadedText
from assistant.ingest.loaders import LOADERS, load

RESERVED = {"sources.yaml", "glossary.yaml", "readme.md"}  # the indexer's own files, never replaced by an upload
BINARY = {".pdf": "application/pdf",
          ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
MAX_NAME_CHARS = 160


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    data: bytes
    sha256: str
    loaded: LoadedText

    @property
    def pages(self) -> int:
        return len(self.loaded.pages)


def safe_name(name: str) -> str:
    """The name a file keeps in knowledge/: a plain file name, or InvalidUpload saying why not."""
    raw = name or ""
    if not raw.strip():
        raise InvalidUpload("the file has no name")
    if "/" in raw or "\\" in raw or raw.strip() in (".", ".."):
        raise InvalidUpload(f"{raw!r} is a path, not a file name: send the file alone, without folders", 400)
    name = unicodedata.normalize("NFC", raw.strip())
    if name.startswith("."):
        raise InvalidUpload(f"{name!r} is a hidden file name (it starts with a dot); rename it", 400)
    if any(unicodedata.category(ch)[0] == "C" for ch in name) or len(name) > MAX_NAME_CHARS:
        raise InvalidUpload(f"the file name must be at most {MAX_NAME_CHARS} printable characters", 400)
    if name.lower() in RESERVED:
        raise InvalidUpload(f"{name} is one of the index's own files; it cannot be uploaded as a document", 400)
    return name


def check_type(name: str, data: bytes) -> None:
    import filetype

    suffix = Path(name).suffix.lower()
    if suffix not in LOADERS:
        raise InvalidUpload(f"{name}: '{suffix or 'no extension'}' is not a type the assistant reads; "
                            f"send one of {', '.join(sorted(LOADERS))}", 415)
    kind = filetype.guess(data[:8192])
    expected = BINARY.get(suffix)
    if expected and (kind is None or kind.mime != expected):
        found = f"a {kind.extension} file" if kind else f"not a {suffix[1:].upper()} file"
        raise InvalidUpload(f"{name}: named {suffix}, but its content is {found}; send the real {suffix} file", 415)
    if not expected and (kind is not None or b"\x00" in data[:8192]):
        found = f"a {kind.extension} file" if kind else "binary data"
        raise InvalidUpload(f"{name}: named {suffix}, but its content is {found}, not text", 415)


def check_upload(name: str, data: bytes, max_bytes: int, present: dict[str, str]) -> CheckedUpload:
    """`present`: the SHA-256 of each file already in knowledge/, by its name there."""
    name = safe_name(name)
    if not data:
        raise InvalidUpload(f"{name} is empty")
    if len(data) > max_bytes:
        raise InvalidUpload(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB "
                            "(CIMIC_MAX_FILE_MB)", 413)
    check_type(name, data)
    sha = hashlib.sha256(data).hexdigest()
    same = [n for n, s in present.items() if s == sha]
    if same:
        raise InvalidUpload(f"{name} is in the knowledge folder already, with the same content" if same[0] == name else
                            f"{name} has the same content as {same[0]}, which is in the knowledge folder already", 409)
    with tempfile.TemporaryDirectory(prefix="cimic-upload-") as tmp:
        path = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(data)
        try:
            loaded = load(path)
        except DocumentError as exc:
            raise InvalidUpload(f"{name}: {exc.reason}") from exc
        except Exception as exc:  # noqa: BLE001 - a parser failing in a way nobody foresaw: the file is refused, not the server
            raise InvalidUpload(f"{name} could not be read ({exc.__class__.__name__})") from exc
    return CheckedUpload(name, data, sha, loaded)
