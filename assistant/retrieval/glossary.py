"""Which glossary terms or acronyms a question names, and whether the term is what it asks about.

A term matches when the question's words hold the term's (Snowball stems, in order; a one-word name, an
acronym, also in the plural: "ttps"). The match is strong when the term is what the question, or a part
of it set apart by a dash, colon or semicolon, is about (it covers most of the words asked), not a word
inside a longer subject ("Domestic CIMIC", "the Digital CIMIC Handbook"). The term table is rebuilt from
the glossary chunks at every refresh. Leaves out: fuzzy matches (the spelling corrector runs first).
"""

from __future__ import annotations

import re

from assistant.documents import Chunk
from assistant.language import content_words, definition_words, fold, question_terms, snowball_stem


def _plain(text: str) -> str:
    return " ".join(fold(re.sub(r"[^\w\s-]", " ", text)).split())


def _stems(text: str) -> tuple[str, ...]:
    """A name's or a question's words, Snowball-stemmed ("hybrid threat" names "Hybrid Threats"); not lemmatised,
    which would read an acronym as a word ("AI" as "be")."""
    return tuple(snowball_stem(w) for w in _plain(text).replace("-", " ").split())


def _names(question: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """Whether the question's words hold the name's in order; a one-word name (an acronym) also in the plural ("ttps")."""
    n = len(name)
    return any(question[k:k + n] == name or (n == 1 and question[k] == name[0] + "s") for k in range(len(question) - n + 1))


def _clauses(question: str) -> list[str]:
    """The question whole, and its parts set apart by a dash, colon or semicolon ("ok, new topic - what is CMI?",
    "cmi: what is it"): a glossary match is strong when the term is what the whole question or one such part is about."""
    parts = [p for p in re.split(r"\s[-–—]\s|[:;]\s", question) if p.strip()]
    return [question] + (parts if len(parts) > 1 else [])


class GlossaryMatcher:
    """The glossary's terms, their bare forms (without a bracketed tail) and acronyms, each with its chunk id."""

    def __init__(self):
        self.terms: list[tuple[tuple[str, ...], str]] = []  # (a name's stems, the glossary chunk's id)
        self._chunks: dict[str, Chunk] = {}

    def index(self, chunks: dict[str, Chunk]) -> None:
        """The term table of these chunks' glossary entries."""
        terms = []
        for i, c in chunks.items():
            if c.kind == "glossary" and c.term:
                base = re.sub(r"\s*\([^)]*\)\s*$", "", c.term)
                for name in {c.term, base, c.acronym or ""} - {""}:
                    terms.append((_stems(name), i))
        self._chunks, self.terms = chunks, terms

    def matches(self, query: str) -> list[tuple[str, bool]]:
        """Glossary chunk ids whose term or acronym the query names (word stems, in order), longest name first, with whether
        the match is strong (see the module docstring)."""
        q = _stems(query)
        clauses = [(_stems(c), question_terms(c) - definition_words()) for c in _clauses(query)]
        found = {}
        for name, i in self.terms:
            if _names(q, name):
                term_words = set(content_words(self._chunks[i].term or name))
                strong = any(not asked or len(asked & term_words) / len(asked) >= 0.6
                             for stems, asked in clauses if _names(stems, name))
                if i not in found or (len(name), strong) > found[i]:
                    found[i] = (len(name), strong)
        return [(i, v[1]) for i, v in sorted(found.items(), key=lambda kv: kv[1], reverse=True)]
