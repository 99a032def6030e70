"""Plain data passed between loaders, the chunker and the indexer.

A loader gives `LoadedText` (the text, page starts, headings it knows); the manifest gives
`SourceInfo`; the chunker gives `Chunk`s, whose id is a hash of their content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    start: int
    title: str
    level: int = 1


@dataclass
class LoadedText:
    text: str
    pages: list[tuple[int, int]] = field(default_factory=list)  # (char offset where page starts, page number)
    headings: list[Heading] | None = None  # None: the chunker finds headings itself
    title: str | None = None
    warnings: list[str] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page


@dataclass(frozen=True)
class SourceInfo:
    doc_id: str
    file: str
    title: str
    kind: str = "document"
    author: str | None = None
    publisher: str | None = None
    date: str | None = None
    doi: str | None = None
    url: str | None = None
    exclude_lines: tuple[str, ...] = ()
    index_until: str | None = None


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    path: str
    page: int | None = None
    kind: str = "text"  # "text", "glossary" or "document" (its manifest record)
    term: str | None = None
    acronym: str | None = None
    nato_agreed: str | None = None
    embed_text: str = ""

    @property
    def id(self) -> str:
        key = f"{self.doc_id}\x00{self.section}\x00{self.text}"
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def metadata(self) -> dict:
        """Chroma metadata: scalars only, no None values."""
        meta = {
            "doc_id": self.doc_id, "title": self.title, "section": self.section, "path": self.path,
            "start": self.start, "end": self.end, "kind": self.kind,
            "page": self.page, "term": self.term, "acronym": self.acronym, "nato_agreed": self.nato_agreed,
        }
        return {k: v for k, v in meta.items() if v is not None}

    @classmethod
    def from_store(cls, text: str, meta: dict) -> "Chunk":
        return cls(
            doc_id=meta["doc_id"], title=meta.get("title", ""), section=meta.get("section", ""), text=text,
            start=int(meta.get("start", 0)), end=int(meta.get("end", 0)), path=meta.get("path", ""),
            page=meta.get("page"), kind=meta.get("kind", "text"), term=meta.get("term"),
            acronym=meta.get("acronym"), nato_agreed=meta.get("nato_agreed"),
        )
