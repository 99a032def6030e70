"""What a file sent from the page or the API must pass before anything is written to knowledge/.

`precheck(name, data, ...)` is what costs nothing: a name that could leave the folder or hide in it (400),
a type the indexer does not read or content that is not what its name says (415), too large (413), empty
(422), the same content already present (409; a file sent again under its own name with replace=true is
taken, to be indexed again), and, for a .docx (a zip), what it unpacks to, read from its central directory
before anything is unpacked: in all, per part and by compression ratio (413, naming the setting: a zip bomb
is refused here). The type is judged by content: the `filetype` library recognises binary formats by their
signature, so a PDF named .txt or an executable named .pdf is refused; text formats must be text (no NUL
bytes, no known binary signature).

`read_isolated(...)` then parses the file with the indexer's own loader, within the same `Limits` (pages,
characters, what a PDF's streams unpack to), and chunks it as the indexer will, in a child process: the
request's thread only waits for it, the parser's memory goes back with the process, and a file that takes
longer than CIMIC_PARSE_TIMEOUT_S is stopped and refused. A file that is unreadable or holds no text is
refused (422), and so is one whose text yields no passage to index (fewer than 3 words, or no piece of it
holding 3 words), with the reason. `check_upload` is both. Leaves out: virus scanning, OCR.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.documents import Heading, LoadedText, SourceInfo
from assistant.errors import DocumentError, InvalidUpload, LimitExceeded, UploadLimit
from assistant.ingest.loaders import LOADERS, Limits, check_zip, load

RESERVED = {"sources.yaml", "glossary.yaml", "readme.md"}  # the indexer's own files, never replaced by an upload
BINARY = {".pdf": "application/pdf",
          ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
ZIPPED = {".docx"}
MAX_NAME_CHARS = 160
CHILD_MEMORY = 3 * 2**30  # address space of the child that parses an upload: a parser gone wild fails there, not here
MIN_WORDS = 3  # what the chunker keeps of a piece (chunker.chunk_document)


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    data: bytes
    sha256: str
    loaded: LoadedText
    passages: int = 0

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


def _refusal(name: str, exc: DocumentError) -> InvalidUpload:
    if isinstance(exc, LimitExceeded):
        return UploadLimit(f"{name}: {exc.reason}", exc.limit)
    return InvalidUpload(f"{name}: {exc.reason}")


def precheck(name: str, data: bytes, max_bytes: int, present: dict[str, str], limits: Limits | None = None,
             replace: bool = False) -> tuple[str, str]:
    """The checks that need no parsing; (the file's name in knowledge/, its SHA-256) or InvalidUpload.
    `present`: the SHA-256 of each file already in knowledge/, by its name there."""
    name = safe_name(name)
    if not data:
        raise InvalidUpload(f"{name} is empty")
    if len(data) > max_bytes:
        raise UploadLimit(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB "
                          "(CIMIC_MAX_FILE_MB)", "CIMIC_MAX_FILE_MB")
    check_type(name, data)
    sha = hashlib.sha256(data).hexdigest()
    same = [n for n, s in present.items() if s == sha and not (replace and n == name)]
    if same:
        raise InvalidUpload(f"{name} is in the knowledge folder already, with the same content" if same[0] == name else
                            f"{name} has the same content as {same[0]}, which is in the knowledge folder already", 409)
    if Path(name).suffix.lower() in ZIPPED:
        import io

        try:
            check_zip(Path(name), limits or Limits(), io.BytesIO(data))
        except DocumentError as exc:
            raise _refusal(name, exc) from exc
    return name, sha


def read_isolated(name: str, data: bytes, limits: Limits | None = None, source: SourceInfo | None = None,
                  chunk_tokens: int = 200, tokens: str = "minilm", timeout_s: float = 120.0) -> tuple[LoadedText, int]:
    """(the loaded text, how many passages it yields) from a child process, or InvalidUpload with the reason.
    `tokens`: how the chunker counts ("minilm": the embedder's tokenizer file; "words": words and marks)."""
    limits = limits or Limits()
    source = source or SourceInfo(doc_id="upload", file=name, title=Path(name).stem)
    with tempfile.TemporaryDirectory(prefix="cimic-upload-") as tmp:
        path = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(data)
        request = {"path": str(path), "limits": asdict(limits), "source": asdict(source),
                   "chunk_tokens": chunk_tokens, "tokens": tokens}
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
               "MALLOC_ARENA_MAX": "2", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
        try:
            done = subprocess.run([sys.executable, "-c", "from assistant.ingest.uploads import _child; _child()"],
                                  input=json.dumps(request).encode(), capture_output=True, timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired as exc:
            raise UploadLimit(f"{name}: reading it took longer than {timeout_s:g} s, the limit (CIMIC_PARSE_TIMEOUT_S); "
                              "it was stopped: split it or send it as plain text", "CIMIC_PARSE_TIMEOUT_S") from exc
    try:
        answer = json.loads(done.stdout.decode("utf-8"))
    except ValueError:
        gone = f"stopped by signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        raise InvalidUpload(f"{name} could not be read: the reader stopped ({gone}), most likely out of memory "
                            f"(it may use {CHILD_MEMORY // 2**30} GB)") from None
    kind = answer["kind"]
    if kind == "limit":
        raise UploadLimit(f"{name}: {answer['reason']}", answer["limit"])
    if kind == "document":
        raise InvalidUpload(f"{name}: {answer['reason']}")
    if kind == "memory":
        raise InvalidUpload(f"{name} could not be read: reading it needs more than {CHILD_MEMORY // 2**30} GB of memory")
    if kind == "error":
        raise InvalidUpload(f"{name} could not be read ({answer['error']})")
    if not answer["passages"]:
        raise InvalidUpload(f"{name} yields no passage to index: {answer['why']}; nothing was written")
    loaded = answer["loaded"]
    loaded["headings"] = None if loaded["headings"] is None else [Heading(**h) for h in loaded["headings"]]
    loaded["pages"] = [tuple(p) for p in loaded["pages"]]
    return LoadedText(**loaded), answer["passages"]


def check_upload(name: str, data: bytes, max_bytes: int, present: dict[str, str], limits: Limits | None = None,
                 replace: bool = False, source: SourceInfo | None = None, chunk_tokens: int = 200,
                 tokens: str = "minilm", timeout_s: float = 120.0) -> CheckedUpload:
    """`precheck`, then `read_isolated`: the file as the indexer will see it, or InvalidUpload saying why not."""
    name, sha = precheck(name, data, max_bytes, present, limits, replace)
    loaded, passages = read_isolated(name, data, limits, source, chunk_tokens, tokens, timeout_s)
    return CheckedUpload(name, data, sha, loaded, passages)


def no_passage_reason(text: str) -> str:
    """Why a text yields no passage: too few words, or no piece of it holding 3 of them."""
    words = re.findall(r"\w+", text)
    if len(words) < MIN_WORDS:
        return f"its text holds {len(words)} word{'s' if len(words) != 1 else ''}; a passage needs at least {MIN_WORDS}"
    longest = max((len(w) for w in text.split()), default=0)
    return (f"none of its pieces holds {MIN_WORDS} words (its {len(words):,} words are cut apart by what surrounds them; "
            f"its longest run without a space is {longest:,} characters)")


def _counter(tokens: str):
    if tokens == "minilm":
        try:
            from assistant.index.embeddings import _Tokens

            counter = _Tokens()
            counter.count_tokens("warm up")
            return counter.count_tokens
        except Exception:  # noqa: BLE001 - no packaged tokenizer: words and marks, as close as it gets
            pass
    return lambda t: len(re.findall(r"\w+|[^\w\s]", t))


def _child() -> None:
    """The child process of `read_isolated`: read the request from stdin, answer one JSON object on stdout."""
    import resource

    from assistant.ingest.chunker import chunk_document

    try:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    except (ValueError, OSError):
        pass
    request = json.loads(sys.stdin.buffer.read())
    try:
        loaded = load(Path(request["path"]), Limits(**request["limits"]))
        source = SourceInfo(**{k: tuple(v) if isinstance(v, list) else v for k, v in request["source"].items()})
        chunks = []
        if len(re.findall(r"\w+", loaded.text)) >= MIN_WORDS:  # fewer words: no passage, whatever the chunker does
            chunks = chunk_document(loaded, source, source.file, request["chunk_tokens"], _counter(request["tokens"]))
        answer = {"kind": "ok", "passages": len(chunks), "loaded": asdict(loaded),
                  "why": "" if chunks else no_passage_reason(loaded.text)}
    except LimitExceeded as exc:
        answer = {"kind": "limit", "reason": exc.reason, "limit": exc.limit}
    except DocumentError as exc:
        answer = {"kind": "document", "reason": exc.reason}
    except MemoryError:
        answer = {"kind": "memory"}
    except Exception as exc:  # noqa: BLE001 - a parser failing in a way nobody foresaw: the file is refused, not the server
        answer = {"kind": "error", "error": exc.__class__.__name__}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
