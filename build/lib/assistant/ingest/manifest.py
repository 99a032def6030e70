"""The sources manifest (knowledge/sources.yaml): titles, authors and indexing hints per document.

Files without an entry are still indexed; their id comes from the file name and their title from
the file's own metadata. Leaves out: any validation of URLs or DOIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.errors import ConfigError
from assistant.ingest.documents import SourceInfo

MANIFEST = "sources.yaml"


@dataclass
class Manifest:
    documents: dict[str, SourceInfo] = field(default_factory=dict)  # by file name relative to knowledge/
    glossary: SourceInfo | None = None
    glossary_from: str | None = None

    def source_for(self, rel: str, fallback_title: str | None) -> SourceInfo:
        if rel in self.documents:
            return self.documents[rel]
        return SourceInfo(doc_id=slug(rel), file=rel, title=fallback_title or Path(rel).stem.replace("_", " "))


def slug(rel: str) -> str:
    stem = str(Path(rel).with_suffix(""))
    return re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower() or "document"


def _info(entry: dict, where: str) -> SourceInfo:
    if not isinstance(entry, dict) or "file" not in entry:
        raise ConfigError(f"{where}: each entry needs at least 'file' (and should have 'id' and 'title')")
    known = set(SourceInfo.__dataclass_fields__) - {"doc_id"} | {"id", "from_file"}
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)} in the entry for {entry['file']}")
    return SourceInfo(
        doc_id=str(entry.get("id") or slug(entry["file"])), file=str(entry["file"]),
        title=str(entry.get("title") or Path(entry["file"]).stem), kind=str(entry.get("kind", "document")),
        author=_opt(entry.get("author")), publisher=_opt(entry.get("publisher")), date=_opt(entry.get("date")),
        doi=_opt(entry.get("doi")), url=_opt(entry.get("url")),
        exclude_lines=tuple(str(x).strip() for x in entry.get("exclude_lines") or ()),
        index_until=_opt(entry.get("index_until")),
    )


def _opt(value) -> str | None:
    return None if value is None else str(value)


def load_manifest(knowledge_dir: Path) -> Manifest:
    path = knowledge_dir / MANIFEST
    if not path.exists():
        return Manifest()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__}); fix the file and ingest again") from exc
    docs = {}
    for entry in data.get("documents") or []:
        info = _info(entry, str(path))
        docs[info.file] = info
    manifest = Manifest(documents=docs)
    if data.get("glossary"):
        manifest.glossary = _info(data["glossary"], str(path))
        manifest.glossary_from = data["glossary"].get("from_file")
    return manifest
