"""Misspelt question words corrected against the words the sources use.

"requirments" becomes "requirements" when the sources use that word and it is close enough (rapidfuzz
ratio >= 85 against the source words with the same first letter, and their dictionary forms: "publsih" becomes
"publish" where the sources write "published"; of equally close ones, the word more chunks use). The words
the sources use are counted per chunk and updated by what an ingest removed and added, so a refresh after a
small ingest costs little.

A short word the sources never use, written before a name, is read as the abbreviation of the word the sources
write before that name ("Op Rescript" -> "Operation Rescript", "Gen Smith" -> "General Smith" where the sources
write so): the source word must begin with it, and of several, the one written before that name most often.
Leaves out: corrections across word boundaries ("civilmilitary"), misspellings of fewer than 5 letters, and
abbreviations that are not the beginning of their word ("Bde" for "Brigade").
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from assistant.documents import Chunk
from assistant.language import words, words_before_names


class SpellingCorrector:
    """The words the sources use (`surface`) and `correct`, which puts them in place of misspelt ones."""

    def __init__(self):
        self._counts: Counter = Counter()  # per word: the chunks that use it (text, title, section or term)
        self.surface: frozenset[str] = frozenset()
        self._by_initial: dict[str, list[str]] = {}
        # per name, the words written before it: how many chunks write each so
        self._before_name: dict[str, Counter] = {}

    def update(self, gone: Iterable[Chunk], came: Iterable[Chunk]) -> None:
        """Count out the chunks that left (or changed) and count in those that came."""
        touched = set()
        for sign, chunks in ((-1, gone), (1, came)):
            for c in chunks:
                self._counts.update({w: sign for w in set(surface_words(c))})
                for word, name in set(words_before_names(c.text)):
                    self._before_name.setdefault(name, Counter())[word] += sign
                    touched.add(name)
        for key in [k for k, n in self._counts.items() if n <= 0]:
            del self._counts[key]
        for name in touched:
            before = self._before_name[name]
            for key in [k for k, n in before.items() if n <= 0]:
                del before[key]
            if not before:
                del self._before_name[name]
        self.surface = frozenset(self._counts)
        import simplemma

        # a word is corrected to one the sources use or to its dictionary form ("publsih" -> "publish", which
        # the sources write "published")
        candidates = {w for w in self.surface if w.isalpha()}
        candidates |= {simplemma.lemmatize(w, lang="en") for w in candidates}
        by_initial: dict[str, list[str]] = {}
        for w in candidates:
            if w.isalpha() and len(w) >= 4:
                by_initial.setdefault(w[0], []).append(w)
        self._by_initial = by_initial

    def correct(self, query: str) -> str:
        """The query with its misspelt words ("requirments") replaced by the closest word the sources use
        ("requirements"), when one is close enough (rapidfuzz ratio >= 85); words the sources use, English
        words simplemma knows, short words and numbers are left as they are."""
        import simplemma
        from rapidfuzz import fuzz, process

        def fix(m):
            w = m.group()
            low = w.lower()
            if len(low) < 5 or not low.isalpha() or low in self.surface or simplemma.is_known(low, lang="en"):
                return w
            found = process.extract(low, self._by_initial.get(low[0], ()), scorer=fuzz.ratio, score_cutoff=85,
                                    limit=None)
            # of equally close words, the one more chunks use, then the first in alphabetical order: never the
            # one a set's order (which changes with Python's hash seed) happens to list first
            return min(found, key=lambda f: (-f[1], -self._counts[f[0]], f[0]))[0] if found else w

        return self._expand_abbreviations(re.sub(r"[A-Za-z]+", fix, query))

    def _expand_abbreviations(self, query: str) -> str:
        """"Op Rescript" -> "Operation Rescript": a word of 2-4 letters the sources never use, before a word the
        sources write as a name after a word that begins with it."""
        def expand(m):
            short, name = m.group(1), m.group(2).lower()
            low = short.lower()
            if low in self.surface:
                return short
            before = self._before_name.get(name, {})
            found = [(n, w) for w, n in before.items() if w.startswith(low) and len(w) > len(low)]
            if not found:
                return short
            word = min(found, key=lambda f: (-f[0], f[1]))[1]
            return word.capitalize() if short[0].isupper() else word

        return re.sub(r"\b([A-Za-z]{2,4})\b(?=\s+([A-Za-z][\w-]*))", expand, query)


def surface_words(c: Chunk) -> list[str]:
    """The words of a chunk as written: its text, title, section and term."""
    return words(" ".join(filter(None, (c.text, c.title, c.section, c.term))))
