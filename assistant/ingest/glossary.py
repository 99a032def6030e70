"""The curated CIMIC glossary (knowledge/glossary.yaml): entries and one chunk per entry.

An entry's chunk starts with its term so that dense and lexical search both find it by name or
acronym; the stored text holds the whole entry verbatim, the embedded text its term, acronym and
opening (the embedder reads only 256 word pieces). Leaves out: editing the glossary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.errors import ConfigError
from assistant.documents import Chunk, SourceInfo

GLOSSARY = "glossary.yaml"


CONNECTION = "Connection to CIMIC:"  # opens the part of an entry's text that links it to CIMIC


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    definition: str
    acronym: str | None = None
    nato_agreed: str | None = None
    connection_to_cimic: str | None = None
    map_definition: str | None = None
    sources: tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default=())

    def text(self) -> str:
        parts = [self.term, self.definition]
        if self.connection_to_cimic:
            parts.append(CONNECTION + "\n" + self.connection_to_cimic)
        return "\n".join(parts)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def load_glossary(path: Path) -> list[GlossaryEntry]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the glossary ({exc.__class__.__name__}: {exc})") from exc
    entries = []
    for i, e in enumerate(data.get("entries") or [], start=1):
        if not isinstance(e, dict) or not e.get("term") or not e.get("definition"):
            raise ConfigError(f"{path}: entry {i} needs a 'term' and a 'definition'")
        entries.append(GlossaryEntry(
            term=e["term"], definition=e["definition"], acronym=e.get("acronym"), nato_agreed=e.get("nato_agreed"),
            connection_to_cimic=e.get("connection_to_cimic"), map_definition=e.get("map_definition"),
            sources=tuple(e.get("sources") or ()), keywords=tuple(e.get("keywords") or ()),
        ))
    return entries


def glossary_chunks(entries: list[GlossaryEntry], source: SourceInfo, raw_text: str, path: str) -> list[Chunk]:
    chunks = []
    for entry in entries:
        start = max(raw_text.find(entry.definition), 0)
        lead = entry.map_definition or entry.definition
        embed = f"{entry.term}. {entry.acronym + '. ' if entry.acronym else ''}{' '.join(lead.split())}"
        chunks.append(Chunk(
            doc_id=source.doc_id, title=source.title, section=entry.term, text=entry.text(),
            start=start, end=start + len(entry.definition), path=path, kind="glossary",
            term=entry.term, acronym=entry.acronym, nato_agreed=entry.nato_agreed, embed_text=embed,
        ))
    return chunks


def search_glossary(entries: list[GlossaryEntry], query: str) -> list[GlossaryEntry]:
    """Entries that match the query, best first: its term contains the query or its acronym equals it;
    then a keyword contains it, or every word of the query, stemmed ("liaison" finds "liaisons"), is in
    the term, acronym or keywords; then every stemmed word is in the definition. No query: every entry."""
    from assistant.language import content_words

    needle = " ".join(query.split()).lower()[:200]
    if not needle:
        return list(entries)
    wanted = set(content_words(needle))

    def rank(e: GlossaryEntry) -> int | None:
        if needle in e.term.lower() or needle == (e.acronym or "").lower():
            return 0
        if any(needle in k.lower() for k in e.keywords):
            return 1
        if wanted and wanted <= set(content_words(" ".join([e.term, e.acronym or "", *e.keywords]))):
            return 1
        if wanted and wanted <= set(content_words(e.text())):
            return 2
        return None

    ranked = [(r, i, e) for i, e in enumerate(entries) if (r := rank(e)) is not None]
    return [e for _, _, e in sorted(ranked, key=lambda x: x[:2])]


def entry_body(chunk) -> str:
    """A passage's text without the term line a glossary entry starts with."""
    text = chunk.text
    if chunk.kind == "glossary" and chunk.term and text.startswith(chunk.term):
        text = text[len(chunk.term):].lstrip()
    return text


def glossary_definition(chunk) -> str:
    """A glossary entry's definition: its text without the term line and the "Connection to CIMIC" part."""
    return entry_body(chunk).split(CONNECTION)[0]
