"""The sources manifest (knowledge/sources.yaml): titles, authors and indexing hints per document.

Files without an entry are still indexed; their id comes from the file name and their title from
the file's own metadata. `write_entry` adds, changes or removes one document's entry for the Documents
tab, keeping the file's comments and order (ruamel.yaml's round trip). Leaves out: any validation of
URLs or DOIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.errors import ConfigError
from assistant.documents import SourceInfo

MANIFEST = "sources.yaml"
EDITABLE = ("title", "author", "publisher", "date", "kind")  # what the Documents tab may set on an entry


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


def write_entry(knowledge_dir: Path, file: str, fields: dict | None, doc_id: str | None = None) -> None:
    """Set the entry of `file` to `fields` (the EDITABLE ones; an empty value removes that field), creating
    it with `doc_id` when there is none; `fields=None` removes the entry. Written atomically."""
    import io
    import os

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout sources.yaml is written in
    path = knowledge_dir / MANIFEST
    data = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if data is None:
        data = CommentedMap()
    if data.get("documents") is None:
        data["documents"] = CommentedSeq()
    docs = data["documents"]
    at = next((i for i, e in enumerate(docs) if isinstance(e, dict) and e.get("file") == file), None)
    if fields is None:
        if at is not None:
            del docs[at]
    else:
        if at is None:
            docs.append(CommentedMap([("file", file), ("id", doc_id or slug(file))]))
            at = len(docs) - 1
        for key in EDITABLE:
            if key in fields:
                value = str(fields[key] or "").strip()
                if value:
                    docs[at][key] = value
                elif key in docs[at] and key != "title":
                    del docs[at][key]
    out = io.StringIO()
    yaml.dump(data, out)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    tmp.replace(path)
