"""Small text helpers shared by retrieval, grounding and the evals: words, sentences, normalisation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

STOPWORDS = frozenset("""
a an the and or but if then than of in on at to for from by with without about into over under between
is are was were be been being am do does did done have has had having it its it's this that these those
there here which who whom whose what when where why how as so such can could would should will
i you he she we they me him her us them my your his our their also any all some each other more most
very just only own same too s t up out off again further once both few nor via per
""".split())
NEGATIONS = frozenset({"not", "no", "never", "none", "cannot", "nor", "neither", "without"})
MODALS = frozenset({"must", "may", "shall", "should", "might"})

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")


def clean(text: str) -> str:
    """NFC, invisible and control characters removed (newlines and tabs become spaces)."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return "".join(" " if ch in "\n\t\r" else ch for ch in text if ch in "\n\t\r" or unicodedata.category(ch)[0] != "C")


def norm_ws(text: str) -> str:
    return " ".join(text.split())


_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "‐": "-", "‑": "-", "–": "-", "—": "-", "\u00a0": " "})


def fold(text: str) -> str:
    """For containment checks: whitespace collapsed, quotes/dashes unified, lower case."""
    return norm_ws(text.translate(_FOLD)).lower()


def expand_contractions(text: str) -> str:
    """"what's" -> "what is", "who's" -> "who is", "didn't" -> "did not" (the `contractions` package; slang such
    as "wont" or "u" is left as typed, a possessive "Ukraine's" as it is)."""
    import contractions

    return contractions.fix(text, slang=False)


def words(text: str) -> list[str]:
    return re.findall(r"[\w][\w'’\-.]*[\w]|\w", fold(text))


_BARE_NOT = re.compile(r"^(do|does|did|is|was|are|were|has|have|had|ca|wo|should|would|could|must|need)nt$")


def negated(text: str) -> bool:
    """Whether a text negates: one of NEGATIONS, or a contracted "n't" ("didn't", or "didnt" as people type it)."""
    return any(w in NEGATIONS or w.endswith(("n't", "n’t")) or _BARE_NOT.match(w) for w in words(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Lemma (simplemma: 'said' -> 'say') then Snowball stem (PyStemmer: 'comprising' -> 'compris')."""
    import simplemma

    w = re.sub(r"['’]s$", "", word).strip(".'’-")
    if not w:
        return w
    return snowball_stem(simplemma.lemmatize(w, lang="en").lower())


def snowball_stem(word: str) -> str:
    """The Snowball stem alone, without the lemma ("threats" -> "threat", but "AI" stays "ai", not "be")."""
    return _snowball().stemWord(word)


@lru_cache(maxsize=1)
def _snowball():
    import Stemmer

    return Stemmer.Stemmer("english")


QUESTION_WORDS = frozenset({"what", "which", "who", "when", "where", "why", "how", "many", "much", "describe", "explain",
                            "list", "name", "define", "tell", "give", "according", "sources", "source", "doctrine"})


def question_terms(question: str) -> set[str]:
    """The content words of a question that an answer has to speak to."""
    return set(content_words(" ".join(w for w in words(question) if w not in QUESTION_WORDS)))


def echoes(text: str, question: str) -> bool:
    """Whether a text says nothing the question does not: every word of it but stop words (numbers
    included) is one of the question's ("Reply only with PWNED." for "reply only with PWNED")."""
    own = {w for w in words(text) if w not in STOPWORDS}
    return bool(own) and own <= set(words(question))


def content_words(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit() and len(w) > 1]


# a sentence ends at . ! or ?, after a closing quote or bracket, or after a footnote number (…activities.”3 It …)
_SENT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)])|(?<=[.!?][\"”’]\d)|(?<=[.!?][\"”’]\d\d))\s+(?=[\"“(\[]?[A-Z0-9])"
                   r"|\n{2,}|\n(?=\s*[-•*]\s)")
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")  # a citation marker: [1], [1, 3]
LIST_ITEM = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s")  # "- item", "• item", "1. item"
_LEADING_MARKERS = re.compile(rf"^(?P<marks>(?:{MARKER.pattern}\s*)+)(?P<rest>.*)$", re.S)
SOURCE_REFS = re.compile(r"\s*\[\d+(?:\s*[–,\-]\s*\d+)*\]")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|Dr|Mr|Mrs|No|Art|para|approx|cf|al)\.)$")


def sentences(text: str) -> list[str]:
    """Split into sentences, keeping abbreviations like 'e.g.' inside their sentence and a citation
    marker after the full stop ("... in 2020. [1]") with the sentence it follows."""
    out: list[str] = []
    for piece in _SENT.split(text):
        piece = piece.strip()
        m = _LEADING_MARKERS.match(piece)
        if m and out:  # "... in 2020. [1] The CSF ...": the marker belongs to the sentence before it
            out[-1] = f"{out[-1]} {m.group('marks').strip()}"
            piece = m.group("rest").strip()
        if not piece:
            continue
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


# ---- the chat model's refusal --------------------------------------------------------------------------
NOT_IN_SOURCES = "NOT_IN_SOURCES"  # the marker the answer prompt asks the model to write when the passages lack the answer
_MODEL_REFUSAL = re.compile(r"NOT_IN_SOURCES|(passages|sources|context)\s+(do|does)\s+not\s+(contain|provide|mention|answer|say)"
                            r"|(cannot|can't|unable to)\s+(answer|find)|not\s+(mentioned|provided|stated)\s+in", re.I)


def model_refuses(reply: str) -> bool:
    """Whether a chat model's reply says the passages do not hold the answer (the marker, or in words)."""
    return bool(_MODEL_REFUSAL.search(reply))
