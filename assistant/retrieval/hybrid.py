"""Hybrid retrieval: dense (Chroma) and BM25 results fused by reciprocal rank, glossary terms first.

Each retriever's own first hit stays among the k passages even when fusion ranks it lower: reciprocal
rank rewards a chunk both lists hold, so the chunk MiniLM finds closest by a clear margin, in words the
question does not use ("the army ... in poland" for "The Polish Armed Forces supported ..."), used to
lose its place to chunks both lists hold lower down. Answer's passage in the top 4: corpus dev articles
0.927 -> 0.936 of 1,199 answerable questions, gold dev 0.977 -> 1.0 (chosen there); reported on the
test splits: corpus 0.909 -> 0.929 of 1,038, gold 1.0 -> 1.0.

A question that names a glossary term or acronym ("What is CMI?") gets that entry first; one that names its source by
its authors or publisher ("according to Wołowiec and Goniewicz", "the Harvard brief") is searched within that source,
and one that names a source by its title's words gets that source's nearest passage. Near-
duplicate chunks (the same sentences in two places) are collapsed to one. A document's catalogue card
("X is a policy brief, published by Y, dated Z") is retrieved only for a question about a document's title,
authors, date, publisher or kind (`language.asks_about_a_document`): for any other it would take the place of a
passage that speaks to the question, and be quoted as the answer to questions about Y itself. A paper's apparatus (its
reference list, notes, acknowledgements: `language.in_apparatus`) is never retrieved: it names works and their
publishers, says nothing about them, and its entries were quoted as answers ("security plans [Internet]").
`relevance` is the best dense similarity, one of the answer gate's signals. The retriever
re-opens the store when `cimic ingest` has written a new generation. It keeps retrieval and fusion and is
given three small parts: the glossary matcher (`retrieval/glossary.py`), the spelling corrector that
puts the words the sources use in place of misspelt ones (`retrieval/spelling.py`, `correct`) and the
sentence-vector cache (`retrieval/sentences.py`, `closeness`). `as_langchain(k)` is the same retrieval
as a LangChain retriever (`retrieval/langchain.py`). Leaves out: rerankers.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field

from assistant.documents import Chunk
from assistant.index.bm25 import BM25Index, bm25_compounds, bm25_tokens
from assistant.ingest.chunker import CARD_TEMPLATE
from assistant.language import asks_about_a_document, cased_words, content_words, in_apparatus, question_terms
from assistant.retrieval.glossary import GlossaryMatcher
from assistant.retrieval.sentences import SentenceVectors
from assistant.retrieval.spelling import SpellingCorrector

RRF_K = 60
CARD_WORDS = frozenset(content_words(CARD_TEMPLATE))


def reciprocal_rank(*rankings: list[str]) -> dict[str, float]:
    """Reciprocal rank fusion: each id's sum of 1 / (RRF_K + rank) over the rankings that hold it, in the order
    the ids were first met (which breaks ties in a sort)."""
    fused: dict[str, float] = {}
    for ranked in rankings:
        for rank, i in enumerate(ranked):
            fused[i] = fused.get(i, 0) + 1 / (RRF_K + rank + 1)
    return fused


@dataclass
class Retrieved:
    id: str
    chunk: Chunk
    score: float  # fused score
    similarity: float  # dense cosine similarity (0 when only BM25 found it)
    glossary_match: bool = False
    names: frozenset[str] = frozenset()  # the question's words that name its source by its record ("Harvard", "brief")


@dataclass
class Retrieval:
    query: str
    passages: list[Retrieved]  # in reading order (see `retrieve`), numbered [1], [2], ... in the prompt
    # best dense similarity among the candidates (a signal for the answer gate); of the query without the words
    # that name a source, within the sources it names, where it names one by its record (`_within`)
    relevance: float
    ranked: list[str] = field(default_factory=list)  # the same passages' ids in fused rank order
    vector: list[float] = field(default_factory=list)  # the query's embedding (the same query as `relevance`)
    # the documents the query names by their title's or record's own words, the most words first (`naming`)
    documents: tuple[str, ...] = ()


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = content_words(text)
    return {tuple(w[i:i + 3]) for i in range(max(len(w) - 2, 1))}


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    sa, sb = _shingles(a), _shingles(b)
    if not sa or not sb:
        return False
    return len(sa & sb) / min(len(sa), len(sb)) >= threshold


class HybridRetriever:
    def __init__(self, open_store, embedder, candidates: int = 20, token=None, *, glossary: GlossaryMatcher | None = None,
                 speller: SpellingCorrector | None = None, sentences: SentenceVectors | None = None):
        """`open_store()` returns (ChromaStore, generation token); `token()` tells the current generation
        cheaply, and the store is opened again when it changes. The glossary matcher, the spelling corrector
        and the sentence-vector cache are made here unless given; the first two are updated at every refresh."""
        self._open_store = open_store
        self._current_token = token
        self.embedder = embedder
        self.candidates = candidates
        self._lock = threading.Lock()
        self._token = None
        self.store = None
        self.chunks: dict[str, Chunk] = {}
        self.bm25 = None
        self.glossary = GlossaryMatcher() if glossary is None else glossary
        self.speller = SpellingCorrector() if speller is None else speller
        self.sentences = SentenceVectors(embedder) if sentences is None else sentences
        self.vocabulary: frozenset[str] = frozenset()
        self._words: dict[str, set[str]] = {}  # passage_words of every chunk, kept between refreshes
        self._record_words: dict[str, set[str]] = {}
        self._cards: frozenset[str] = frozenset()  # the catalogue cards' chunk ids
        self._apparatus: frozenset[str] = frozenset()  # the ids of chunks in a reference list, notes or acknowledgements
        self._doc_names: dict[str, set[str]] = {}
        self._title_words: dict[str, set[str]] = {}  # the content words of each document's title
        self._df: Counter = Counter()  # chunks that use each word
        self._said: Counter = Counter()  # the same over the chunks that can be cited (`_said_by`)
        self._doc_text_words: dict[str, Counter] = {}  # per document: its chunks whose text uses each word
        self._text_docs: Counter = Counter()  # per word: the documents whose text uses it
        self._tokens: dict[str, list[str]] = {}  # BM25 tokens of every chunk, kept between refreshes
        self._compounds: dict[str, dict] = {}  # its hyphenated words with their parts, kept the same way
        self._cased: dict[str, Counter] = {}  # per chunk: its words inside sentences, by (stem, capitalised)
        self._case: Counter = Counter()  # the same over the index
        self._segments: dict = {}  # the embedded store's immutable segments, read once (store.SegmentedStore.chunks)

    def refresh(self, token_now=None) -> None:
        with self._lock:
            if self.store is not None and token_now is not None and token_now == self._token:
                return
            store, token = self._open_store()
            old, self.store, self._token = self.store, store, token_now if token_now is not None else token
            self._index(store.chunks(self._segments))
            if old is not None:
                old.close()

    def _index(self, chunks: dict[str, Chunk]) -> None:
        """Derive what the lexical side reads from the chunks. What a chunk yields (its words, its BM25
        tokens) is kept from the previous refresh when the chunk did not change, and the counts over the
        index are updated by what left and what came, so a refresh after a small ingest costs little."""
        prev = self.chunks
        gone = [i for i in prev if chunks.get(i) != prev[i]]
        came = [i for i in chunks if prev.get(i) != chunks[i]]
        for i in gone:  # gone or changed: what it yielded, subtracted
            c = prev[i]
            self._said.subtract(self._said_by(i, c))
            self._df.subtract(self._words.pop(i))
            self._case.subtract(self._cased.pop(i))
            del self._tokens[i], self._compounds[i]
            self._count_text_words(c, -1)
        for i in came:  # new or changed: added
            c = chunks[i]
            self._words[i], self._tokens[i], self._compounds[i] = passage_words(c), bm25_tokens(c), bm25_compounds(c)
            self._df.update(self._words[i])
            self._said.update(self._said_by(i, c))
            self._cased[i] = Counter(cased_words(c.text))
            self._case.update(self._cased[i])
            self._count_text_words(c, +1)
        self.speller.update([prev[i] for i in gone], [chunks[i] for i in came])
        for counter in (self._df, self._said, self._text_docs, self._case):
            for key in [k for k, n in counter.items() if n <= 0]:
                del counter[key]
        self.chunks = chunks
        ids = list(chunks)
        compounds = {w: parts for i in ids for w, parts in self._compounds[i].items()}
        self.bm25 = BM25Index(ids, [self._tokens[i] for i in ids], compounds)
        self.glossary.index(chunks)
        # the words the sources say where a passage can be cited: a word only a reference list writes ("London" in a
        # publisher's address, a journal's title) is one they never speak of, so a question that names it asks about
        # something they do not cover (the `unknown` and `names_unknown` signals)
        self.vocabulary = frozenset(self._said)
        # a card's facts, not the words its sentence puts around them ("written by" named the one paper with authors)
        self._record_words = {c.doc_id: self._words[i] - CARD_WORDS for i, c in chunks.items() if c.kind == "document"}
        self._cards = frozenset(i for i, c in chunks.items() if c.kind == "document")
        self._apparatus = frozenset(i for i, c in chunks.items() if in_apparatus(c.section))
        self._title_words = {}
        for doc, title in {(c.doc_id, c.title) for c in chunks.values()}:
            self._title_words.setdefault(doc, set()).update(content_words(title))
        self._doc_names = _distinctive_names(self._title_words, self._record_words, self._text_docs)

    def _said_by(self, i: str, c: Chunk) -> set[str]:
        """The words a chunk says where it can be cited, with its hyphenated words' parts ("covid" of "COVID-19", as
        trainees type it; `bm25_compounds`): none for a paper's apparatus."""
        return set() if in_apparatus(c.section) else self._words[i].union(*self._compounds[i].values())

    @property
    def _terms(self) -> list[tuple[tuple[str, ...], str]]:
        return self.glossary.terms

    @property
    def _surface(self) -> frozenset[str]:
        return self.speller.surface

    def _count_text_words(self, c: Chunk, sign: int) -> None:
        counts = self._doc_text_words.setdefault(c.doc_id, Counter())
        for w in set(content_words(c.text)):
            before = counts[w]
            counts[w] = before + sign
            if (before > 0) != (counts[w] > 0):  # the document starts or stops using the word
                self._text_docs[w] += sign
            if counts[w] <= 0:
                del counts[w]
        if not counts:
            del self._doc_text_words[c.doc_id]

    def refresh_if_changed(self) -> None:
        if self._current_token is None:
            if self.store is None:
                self.refresh()
            return
        now = self._current_token()
        if self.store is None or now != self._token:
            self.refresh(now)

    def count(self) -> int:
        return len(self.chunks)

    @property
    def generation(self):
        """Which index the retriever holds now: changes with every ingest (caches built over the chunks key on it)."""
        return self._token

    def ping(self) -> int:
        """The chunk count the store reports now (raises StoreUnavailable when it does not answer)."""
        if self.store is None:
            self.refresh()
        return self.store.count()

    def glossary_matches(self, query: str) -> list[tuple[str, bool]]:
        """Glossary chunk ids whose term or acronym the query names, longest name first, with whether the match
        is strong (`GlossaryMatcher.matches`)."""
        return self.glossary.matches(query)

    def is_name(self, term: str) -> bool:
        """Whether the sources write a word (stem) as a name: capitalised inside sentences more often than not
        ("Poland", "Rescript", "NATO"; not "soldiers"), so a question typed in lower case still names it."""
        return self._case[(term, True)] > self._case[(term, False)]

    def idf(self, term: str) -> float:
        """How rare a word (stem) is in the whole index: log(1 + N / (1 + chunks that use it))."""
        return math.log(1 + len(self.chunks) / (1 + self._df.get(term, 0)))

    def words_of(self, p: Retrieved) -> set[str]:
        """The words a retrieved passage speaks to: its own, its headings' and its document record's."""
        own = self._words.get(p.id) or passage_words(p.chunk)
        parts = self._compounds[p.id] if p.id in self._compounds else bm25_compounds(p.chunk)  # {} is read once too
        return own.union(*parts.values()) | self._record_words.get(p.chunk.doc_id, set())

    def closeness(self, vector: list[float], texts: list[str]) -> list[float]:
        """How close in meaning each text is to a query (`SentenceVectors.closeness`: cosines, each sentence embedded once)."""
        return self.sentences.closeness(vector, texts)

    def correct(self, query: str) -> str:
        """The query with its misspelt words replaced by the closest word the sources use (`SpellingCorrector.correct`)."""
        return self.speller.correct(query)

    def as_langchain(self, k: int = 4):
        """This retriever as a LangChain `BaseRetriever` returning the k best passages as `Document`s."""
        from assistant.retrieval.langchain import CimicRetriever

        return CimicRetriever(retriever=self, k=k)

    def retrieve(self, query: str, k: int) -> Retrieval:
        if self.store is None:
            self.refresh()
        vector = self.embedder.embed([query])[0]
        dense = self.store.query(vector, self.candidates)
        lexical = self.bm25.search(query, self.candidates)
        cards = asks_about_a_document(query)
        hidden = self._hidden(cards)
        dense = [h for h in dense if h.id not in hidden]
        lexical = [(i, score) for i, score in lexical if i not in hidden]
        sims = {h.id: h.similarity for h in dense}
        fused = reciprocal_rank([h.id for h in dense], [i for i, _ in lexical])
        matches = self.glossary_matches(query)
        strong_terms = {i for i, strong in matches if strong}
        for rank, (i, strong) in enumerate(matches[:2]):
            # a term the question names comes first; a common word that happens to be a term only counts once more
            fused[i] = fused.get(i, 0) + (1.0 / (rank + 1) if strong else 1 / (RRF_K + 1))
        ordered = sorted(fused, key=fused.get, reverse=True)
        firsts = set(([dense[0].id] if dense else []) + ([lexical[0][0]] if lexical else []))
        passages: list[Retrieved] = []
        for i in ordered:
            if i not in firsts and i not in strong_terms and len(passages) >= k - len(firsts):
                continue  # the last places are held for each retriever's first hit (see the module docstring)
            chunk = self.chunks.get(i) or next((h.chunk for h in dense if h.id == i), None)
            if chunk is None or any(near_duplicate(chunk.text, p.chunk.text) for p in passages):
                firsts.discard(i)  # a first hit already said by a kept passage needs no place of its own
                continue
            firsts.discard(i)
            passages.append(Retrieved(i, chunk, fused[i], sims.get(i, 0.0), i in strong_terms))
            if len(passages) >= k:
                break
        relevance = max([h.similarity for h in dense], default=0.0)
        named = self.naming(query)
        passages, naming, searched = self._named_documents(query, named, vector, passages, strong_terms, k, cards)
        if searched is not None:  # searched again without the words naming a source: what the sources are compared with
            vector, relevance = searched
        for p in passages:
            p.names = frozenset(naming.get(p.chunk.doc_id, ()))
        # passages of one section are read in the document's order: the one that introduces a subject
        # ("the United Kingdom launched Operation Rescript in March 2020") before the ones that go on about it
        ranked = [p.id for p in passages]
        first = {}
        for rank, p in enumerate(passages):
            first.setdefault((p.chunk.doc_id, p.chunk.section), rank)
        passages.sort(key=lambda p: (first[(p.chunk.doc_id, p.chunk.section)], p.chunk.start))
        return Retrieval(query, passages, relevance, ranked, list(vector),
                         tuple(sorted(named, key=lambda d: -len(named[d]))))

    def naming(self, query: str) -> dict[str, set[str]]:
        """The documents a query names, each with the words that name it: words of its title or record (authors,
        publisher) that no other document has ("the Ukrainian article", "according to Wołowiec and Goniewicz")."""
        asked = question_terms(query)
        return {d: names & asked for d, names in self._doc_names.items() if names & asked}

    def card(self, doc_id: str) -> Retrieved | None:
        """A document's catalogue card as a passage, where its record made one."""
        found = next((i for i in self._cards if self.chunks[i].doc_id == doc_id), None)
        return Retrieved(found, self.chunks[found], 0.0, 0.0, False) if found else None

    def _hidden(self, cards: bool) -> frozenset[str]:
        """The chunks a question may not get: a paper's apparatus always (a reference list names works, it does not
        say what they say: "Paris Olympics 2024 security plans [Internet]" is no answer to what the security was),
        and the catalogue cards unless it asks about a document itself (`cards`)."""
        return self._apparatus if cards else self._apparatus | self._cards

    def _named_documents(self, query, named, vector, passages, strong_terms, k, cards: bool
                         ) -> tuple[list[Retrieved], dict[str, set[str]], tuple[list[float], float] | None]:
        """The sources a question names (`named`: `naming`), and its passages given what it names. Returns the passages, the named
        sources' ids with the words that name them by their record (none where the title's words alone name one), and,
        where the question was searched again without those words, that search's vector and its best similarity
        within the named sources (None where it was not).

        Named by its record, not its title ("according to Wołowiec and Goniewicz", "the Harvard brief": its authors,
        its publisher), a source is where the answer must come from, and those words find its title page and author
        notes rather than what it says: the question is searched again without them, within the named sources, and
        their passages take every place (`_within`). Named by its title's words alone ("the Ukrainian article",
        "lessons"), which are also what a question may simply be about, a source gets its nearest passage in place of
        the lowest-ranked passage of a source that has more than one (or of an unnamed one)."""
        by_record = {d: ws - self._title_words.get(d, set()) for d, ws in named.items()}
        if any(by_record.values()):
            kept, searched = self._within(query, named, set().union(*by_record.values()), passages, k, cards)
            return kept, by_record, searched
        if len(passages) < 2:
            return passages, by_record, None
        hidden = self._hidden(cards=False)
        for doc in sorted(set(named) - {p.chunk.doc_id for p in passages}):
            hit = next((h for h in self.store.query(vector, 4, doc_id=doc) if h.id not in hidden
                        and not any(near_duplicate(h.chunk.text, p.chunk.text) for p in passages)), None)
            docs = [p.chunk.doc_id for p in passages]
            victims = [j for j in range(len(passages) - 1, 0, -1) if passages[j].id not in strong_terms
                       and (docs[j] not in named or docs.count(docs[j]) > 1)]
            if hit is not None and victims:
                passages[victims[0]] = Retrieved(hit.id, self.chunks.get(hit.id, hit.chunk), 0.0, hit.similarity, False)
        return passages, by_record, None

    def _within(self, query, named, naming, passages, k, cards: bool
                ) -> tuple[list[Retrieved], tuple[list[float], float] | None]:
        """The named sources' passages for the question without the words that name them (`naming`): dense and BM25
        within each source, fused by reciprocal rank; each source's best and each search's first hit there first,
        then the best of the rest, until k. A catalogue card the retrieval chose for a question about the document
        itself (`cards`) keeps its place; where the named sources hold fewer than k passages, the other sources'
        passages keep the last places. Returns them, and the vector searched with and its best similarity within
        the named sources (None where they hold no passage it may get, or where the question asks about a document
        itself: the names are then its subject)."""
        rest = " ".join(w for w in query.split() if not set(content_words(w)) & naming)
        vector = self.embedder.embed([rest])[0]
        lexical = self.bm25.search(rest, len(self.chunks))
        fused: dict[str, float] = {}
        sims: dict[str, float] = {}
        hits: dict[str, Chunk] = {}
        firsts: list[str] = []
        others: list[str] = []
        hidden = self._hidden(cards)
        for doc in sorted(named):
            dense = [h for h in self.store.query(vector, k * 2, doc_id=doc) if h.id not in hidden]
            sims.update({h.id: h.similarity for h in dense})
            hits.update({h.id: h.chunk for h in dense})
            own = [i for i, _ in lexical if i not in hidden and self.chunks[i].doc_id == doc][:k * 2]
            rankings = ([h.id for h in dense], own)
            mine = reciprocal_rank(*rankings)
            best = sorted(mine, key=mine.get, reverse=True)
            firsts += best[:1] + [ranked[0] for ranked in rankings if ranked]  # as in `retrieve`
            others += best[1:]
            fused.update(mine)
        kept = [p for p in passages if p.chunk.doc_id in named and p.chunk.kind == "document"]
        for i in firsts + sorted(others, key=fused.get, reverse=True):
            if len(kept) >= k:
                break
            chunk = self.chunks.get(i) or hits.get(i)
            if chunk is not None and not any(p.id == i or near_duplicate(chunk.text, p.chunk.text) for p in kept):
                kept.append(Retrieved(i, chunk, 0.0, sims.get(i, 0.0), False))
        # asked about a document itself (its date, authors, publisher), the names are what is asked about: kept
        searched = (vector, max(sims.values())) if sims and not cards else None
        return kept + [p for p in passages if p.chunk.doc_id not in named][:max(0, k - len(kept))], searched


def _distinctive_names(titles: dict[str, set[str]], records: dict[str, set[str]], text_docs: Counter
                        ) -> dict[str, set[str]]:
    """Per document, the words of its title and record (author, publisher) that no other document has
    (`text_docs`: how many documents' texts use each word)."""
    words: dict[str, set[str]] = {doc: set(ws) for doc, ws in titles.items()}
    for doc, rec in records.items():
        words.setdefault(doc, set()).update(rec)
    named_by = Counter(w for ws in words.values() for w in ws)  # documents whose title or record has each word
    # a name, not a common word: no other document's title or record has it, and at most one other
    # document's text uses it ("during" is everywhere)
    return {doc: {w for w in ws if named_by[w] == 1 and len(w) > 3 and not w.isdigit() and text_docs.get(w, 0) <= 2}
            for doc, ws in words.items()}


def passage_words(chunk: Chunk) -> set[str]:
    """The content words a passage speaks to: its text, and the title, section and term it sits under."""
    return set(content_words(" ".join(filter(None, (chunk.text, chunk.title, chunk.section, chunk.term)))))
