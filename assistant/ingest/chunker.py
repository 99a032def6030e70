"""Structure-aware chunking: sections by heading, then pieces that fit the embedder; a list cut off from the
sentence that introduces it gets that sentence back.

Articles are cut at their section headings (from the loader, or found in plain text by a layout
rule); each section is split with LangChain's recursive splitter measured in the embedder's own
word pieces, so that no chunk is silently cut off by all-MiniLM-L6-v2's 256-piece window. Every
chunk keeps its document, section path, character offsets and page. Glossary entries are chunked
elsewhere (`glossary.py`), one per entry. Leaves out: tables, footnote linking.
"""

from __future__ import annotations

import re
from typing import Callable

from assistant.documents import Chunk, Heading, LoadedText, SourceInfo
from assistant.language import DATELINE, LIST_ITEM, MONTHS, sentences

TokenCounter = Callable[[str], int]

_TERMINAL = tuple(".,;:!?…")


def _looks_like_heading(line: str, previous: str | None, following: str | None) -> bool:
    """A heading in plain text: a short line that is not a sentence, a list item or a continuation."""
    line = line.strip()
    if not line or len(line) > 100 or len(line.split()) > 14:
        return False
    if DATELINE.match(line):
        return False  # a dateline ("October 2008") belongs to the text it dates
    if line.endswith(_TERMINAL) or LIST_ITEM.match(line) or not (line[0].isupper() or line[0].isdigit()):
        return False
    if not re.search(r"[A-Za-z\u00c0-\u024f]{3}", line) or re.search(r"\d{4}-\d{4}|@|://", line):
        return False
    if previous is not None and previous.strip() and not previous.rstrip().endswith(_TERMINAL + ("”", '"', ")")):
        return False  # the line continues the previous one
    # a short line whose next line starts in lower case is a sentence broken by a page break
    return following is None or not following.lstrip()[:1].islower()


def find_headings(text: str, excluded: set[str]) -> list[Heading]:
    lines, offset = [], 0
    for raw in text.splitlines(keepends=True):
        if raw.strip() and raw.strip() not in excluded:
            lines.append((offset, raw))
        elif not raw.strip():
            lines.append((offset, ""))
        offset += len(raw)
    heads = []
    for i, (start, line) in enumerate(lines):
        if not line.strip():
            continue
        prev = lines[i - 1][1] if i > 0 else None
        nxt = next((l for _, l in lines[i + 1:] if l.strip()), None)
        if _looks_like_heading(line, prev, nxt):
            heads.append(Heading(start + len(line) - len(line.lstrip()), line.strip()))
    return heads


def _blank_out(text: str, source: SourceInfo, headings: list[Heading] | None = None) -> str:
    """Same-length copy of the text with furniture lines blanked and what follows `index_until` dropped,
    and paragraph breaks that split a sentence (page breaks in captured text) joined, offsets unchanged.
    A break next to one of the loader's `headings` is never joined: a heading ending in a lower-case word
    followed by a lower-case paragraph is a heading and its body, not a broken sentence."""
    if source.index_until:
        m = re.search(rf"^[ \t]*{re.escape(source.index_until)}[ \t]*$", text, re.M)
        if m:
            text = text[:m.start()] + " " * (len(text) - m.start())
    if source.exclude_lines:
        wanted = set(source.exclude_lines)
        text = re.sub(r"(?m)^.*$", lambda m: " " * len(m.group()) if m.group().strip() in wanted else m.group(), text)
    kept = set()
    for h in headings or ():
        line_end = text.find("\n", h.start)
        kept.update((h.start, len(text) if line_end == -1 else line_end))
    return re.sub(r"(?<=[a-z,])\n([ \t]*)\n(?=[a-z])",
                  lambda m: m.group() if m.start() in kept or m.end() in kept else "  " + m.group(1), text)


def _sections(text: str, headings: list[Heading]) -> list[tuple[str, int, int]]:
    """(section path, body start, body end). A heading with no body of its own is the parent of the next."""
    out, stack, parent_pending = [], [], False
    bounds = sorted(headings, key=lambda h: h.start)
    for i, h in enumerate(bounds):
        head_end = text.find("\n", h.start)
        head_end = len(text) if head_end == -1 else head_end
        body_end = bounds[i + 1].start if i + 1 < len(bounds) else len(text)
        while stack and (stack[-1].level > h.level or (stack[-1].level == h.level and not parent_pending)):
            stack.pop()
        stack.append(h)
        has_body = bool(text[head_end:body_end].strip())
        if has_body:
            out.append((" > ".join(x.title for x in stack[-2:]), head_end, body_end))
        parent_pending = not has_body
    first = bounds[0].start if bounds else len(text)
    if text[:first].strip():
        out.insert(0, ("", 0, first))
    return out


def make_splitter(chunk_tokens: int, count_tokens: TokenCounter):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens, chunk_overlap=0, length_function=count_tokens,
        separators=["\n\n", "\n", r"(?<=[.!?])\s+", "; ", ", ", " ", ""], is_separator_regex=True,
        keep_separator="end", add_start_index=True,
    )


def _with_lead_ins(body: str, pieces: list[tuple[int, str]], chunk_tokens: int, count_tokens: TokenCounter
                   ) -> list[tuple[int, str]]:
    """(start in body, text) of each piece; a piece that opens with list items where the piece before ended with the
    sentence that introduces them ("The armed forces supported the state, including:") starts at that sentence
    instead, so that the items are read, retrieved and quoted with what they are items of (the sentence stays in
    the piece before as well). Where the items fill their piece, they are split again to leave room for it (a
    lead-in longer than half a chunk is left where it is)."""
    out, lead, queue = [], None, list(pieces)
    while queue:
        at, piece = queue.pop(0)
        if lead is not None and LIST_ITEM.match(piece.lstrip()):
            room = chunk_tokens - count_tokens(body[lead:at])
            if count_tokens(body[lead:at + len(piece)]) > chunk_tokens and room >= chunk_tokens // 2:
                parts = [(at + d.metadata["start_index"], d.page_content)
                         for d in make_splitter(room, count_tokens).create_documents([piece])]
                (at, piece), queue = parts[0], parts[1:] + queue
            if count_tokens(body[lead:at + len(piece)]) <= chunk_tokens:
                at, piece = lead, body[lead:at + len(piece)]
        lead = None
        ending = piece.rstrip()
        if ending.endswith(":"):
            cut = ending.rfind(sentences(ending)[-1])  # the piece's last sentence, where the list's lead-in starts
            lead = at + cut if cut >= 0 else None
        out.append((at, piece))
    return out


def chunk_document(loaded: LoadedText, source: SourceInfo, path: str, chunk_tokens: int,
                   count_tokens: TokenCounter) -> list[Chunk]:
    text = _blank_out(loaded.text, source, loaded.headings)
    headings = loaded.headings if loaded.headings is not None else find_headings(text, set(source.exclude_lines))
    splitter = make_splitter(chunk_tokens, count_tokens)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section, start, end in _sections(text, headings):
        body = text[start:end]
        pieces = [(doc.metadata["start_index"], doc.page_content) for doc in splitter.create_documents([body])]
        for at, piece in _with_lead_ins(body, pieces, chunk_tokens, count_tokens):
            offset = start + at
            display = re.sub(r"[ \t]*\n\s*\n[ \t]*", "\n\n", piece.strip())
            display = re.sub(r"[ \t]{2,}", " ", display)
            if len(re.findall(r"\w+", display)) < 3:
                continue
            chunk = Chunk(
                doc_id=source.doc_id, title=source.title, section=section, text=display,
                start=offset, end=offset + len(piece), path=path, page=loaded.page_at(offset),
                embed_text=f"{source.title}. {section}. {display}" if section else f"{source.title}. {display}",
            )
            if chunk.id not in seen:
                seen.add(chunk.id)
                chunks.append(chunk)
    return chunks


def _spoken_date(date: str) -> str:
    """'2008-10' -> 'October 2008', '2026-06-30' -> '30 June 2026'; anything else as written."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", date.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        return date
    month = f"{MONTHS[int(m.group(2)) - 1]} {m.group(1)}"
    return f"{int(m.group(3))} {month}" if m.group(3) else month


# how a document card says each fact of its record ("X is a <kind>, written by ..., published by ..., dated ... .
# Its DOI is ..."); these words tell what kind of sentence it is, not which document it is about (`CARD_TEMPLATE`)
CARD_PHRASES = {"kind": "is a", "author": "written by", "publisher": "published by", "date": "dated",
                "doi": "Its DOI is"}
CARD_TEMPLATE = " ".join(CARD_PHRASES.values())


def card_states(text: str, detail: str) -> bool:
    """Whether a document card (`document_card`) states a detail of its record (`language.catalogue_detail`): every
    card gives its document's title and kind, and who it comes from (its publisher, else its authors); its authors, date
    and DOI only where the record has them."""
    if detail == "publisher":
        return CARD_PHRASES["publisher"] in text or CARD_PHRASES["author"] in text
    return detail in ("title", "kind") or CARD_PHRASES.get(detail, "\0") in text


def document_card(source: SourceInfo, path: str) -> Chunk | None:
    """One passage per document from its manifest entry (who wrote it, when, where), so that questions
    about a source itself ("When was the HHI brief published?") find and cite its record."""
    say = CARD_PHRASES
    facts = []
    if source.author:
        facts.append(f"{say['author']} {source.author.replace('; ', ' and ')}")
    if source.publisher:
        the = "" if source.publisher.lower().startswith("the ") else "the "
        facts.append(f"{say['publisher']} {the}{source.publisher}")
    if source.date:
        facts.append(f"{say['date']} {_spoken_date(source.date)}")
    if not facts:
        return None
    text = f"{source.title} {say['kind']} {source.kind}, " + ", ".join(facts) + "."
    if source.doi:
        text += f" {say['doi']} {source.doi}."
    return Chunk(doc_id=source.doc_id, title=source.title, section="About this document", text=text, start=0, end=0,
                 path=path, kind="document", embed_text=text)
