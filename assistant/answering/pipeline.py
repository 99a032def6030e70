"""question -> condense -> retrieve -> signals -> draft -> check citations -> gate -> Answer.

Each step takes and returns plain frozen records (`Prepared`, `Draft`, `Checked`); the answer-or-refuse
decision is made in one place, the calibrated gate (`answering/gate.py`), from the signals of the
retrieval and of the draft. Every sentence of an answer carries a citation to a retrieved passage that
supports it: citations to passages that were not retrieved are removed, an uncited sentence gets the
passage that supports it best, and a sentence no passage supports is dropped and reported in
`unsupported`. When the chat model refuses or nothing of its draft is grounded, the sources' own best
sentences are drafted instead, and the gate decides on them knowing that the model refused. An open question
("why", "what lessons", "walk me through ...": `question_form.py`) is answered by its points, quoted from the
sources at once; with a chat model, its one-sentence summary of those points follows (the model is stopped once that
sentence has ended, or once it copies a point), checked like any draft (the
gate decides on the points and on the model's confirmation of the sources' closest sentences). The answering steps
stream: token events while the model drafts, then the answer.

The pipeline is a LangChain runnable (`Assistant.as_runnable`) composed of its steps, each a small
runnable over these records: validate | prepare (condense, retrieve, signals) | draft (or the gate's
refusal before drafting) | answer (check citations, gate, Answer). `ask` invokes it and `ask_stream`
streams it, so the page and the API stream through it, and `batch`, `ainvoke`/`astream` and LangChain
callbacks (one run per step) work as for any runnable. Leaves out: the HTTP and UI edges.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSequence
from langchain_core.runnables.config import (ensure_config, get_async_callback_manager_for_config,
                                             get_callback_manager_for_config, patch_config, run_in_executor,
                                             set_config_context)

from assistant.answering.answer import Answer, Citation
from assistant.answering.gate import Decision, Gate
from assistant.answering.signals import Signals, retrieval_signals
from assistant.answering.verification import confirmation
from assistant.errors import BackendUnavailable, ConfigError, InvalidQuestion
from assistant.answering.grounding import LexicalSupportScorer, SupportScorer, best_support, cited_sentences, joint_support, renumber_markers
from assistant.llm.base import ChatModel, make_chat_model, read_until
from assistant.prompts import messages, render
from assistant.answering.context import compress
from assistant.answering.drafting import expand_fragments, extractive_answer, glossary_answer
from assistant.answering.question_form import QuestionForm
from assistant.retrieval.condense import standalone_question
from assistant.retrieval.hybrid import HybridRetriever, Retrieval
from assistant.ingest.chunker import card_states
from assistant.language import (FRONT_MATTER, NOT_IN_SOURCES, PAPER_PARTS, PRECISE_KINDS, catalogue_detail, content_words,
                                expand_contractions, expects, holds, is_definitional, is_open, model_refuses,
                                reads_as_english, sentences, subject_of)
from assistant.answering.validation import validate


def refusal_odds(first_token: dict[str, float], refused: bool) -> float:
    """The probability that the model's reply began with NOT_IN_SOURCES, from its first token's
    alternatives; without them (a back-end that reports none), whether it refused."""
    if not first_token:
        return float(refused)
    return min(1.0, sum(p for tok, p in first_token.items() if tok.strip() and NOT_IN_SOURCES.startswith(tok.strip())))


@dataclass(frozen=True)
class Prepared:
    """A question made standalone, its retrieval and the retrieval's signals."""
    question: str
    history: tuple
    standalone: str
    retrieval: Retrieval
    signals: Signals
    weights: dict  # the question's words and their rarity in the whole index
    drafter: str  # "glossary", "llm" or "extractive"
    gate_kind: str  # which of the gate's models decides (`gate.KINDS`): "llm" when a chat model drafts (or may),
    # "points" when it confirms an open question's quoted points, else "extractive"
    t0: float
    timings: dict = field(default_factory=dict)
    open_question: bool = False  # asks for several points (`question_form.QuestionForm`)
    # a detail of a document's record that the record does not state (`Assistant._unstated`): (its card or None,)
    unstated: tuple | None = None

    @property
    def points_quoted(self) -> bool:
        """Its points are quoted from the passages whichever the drafter (an open question not answered by a glossary
        entry): without a chat model the extractive model of the gate decides it, with one the "points" model (the
        model confirms and sums the points up, it drafts no answer)."""
        return self.open_question and self.drafter != "glossary"


@dataclass(frozen=True)
class Draft:
    text: str
    drafter: str  # who wrote it: "llm", "extractive" or "glossary"
    model_refused: bool = False
    notice: str | None = None
    replaced: str | None = None  # the chat model's draft this one stands in for
    doubt: float | None = None  # how likely the model's first token began a refusal (None: not drafted by a model)
    summary: str | None = None  # the chat model's lead for quoted points (an open question), checked on its own
    confirms: float | None = None  # with quoted points, the chat model's confirmation (`Assistant.points_confirmation`)


@dataclass(frozen=True)
class Drafted:
    """A prepared question and its draft; or no draft, and the gate's decision not to draft one."""
    prep: Prepared
    draft: Draft | None
    early: Decision | None = None


@dataclass(frozen=True)
class Checked:
    """A draft's sentences that the support check grounded (with their citations), and those it did not."""
    kept: tuple[tuple[str, tuple[int, ...]], ...]
    unsupported: tuple[str, ...]
    recited: int = 0  # kept sentences whose citations the check changed

    @property
    def sentences(self) -> int:
        return len(self.kept) + len(self.unsupported)

    @property
    def support(self) -> float:
        return len(self.kept) / self.sentences if self.sentences else 0.0


class Assistant:
    def __init__(self, settings, retriever: HybridRetriever, chat_model: ChatModel | None, gate: Gate,
                 scorer: SupportScorer | None = None):
        self.settings = settings
        self.retriever = retriever
        self.chat_model = chat_model
        self.gate = gate
        self.scorer = scorer or LexicalSupportScorer()
        self.forms = QuestionForm(retriever.embedder)
        self.backend = settings.llm_backend
        self.kind = "extractive" if chat_model is None else "llm"
        self._siblings: dict[str, Assistant] = {}
        self._siblings_lock = threading.Lock()
        self._runnable: Runnable | None = None

    # ---- public interface -------------------------------------------------------------------
    def for_backend(self, name: str | None) -> "Assistant":
        """This assistant on another back-end (made once, sharing the index, the gate and the scorer)."""
        if not name or name == self.backend:
            return self
        with self._siblings_lock:
            if name not in self._siblings:
                settings = self.settings.model_copy(update={"llm_backend": name})
                try:
                    model = make_chat_model(settings)
                except ConfigError as exc:
                    raise InvalidQuestion(f"back-end {name!r} is not available here: {exc.message}") from exc
                self._siblings[name] = Assistant(settings, self.retriever, model, self.gate, self.scorer)
            return self._siblings[name]

    def backend_reachable(self) -> tuple[bool, str | None]:
        """Whether the chat back-end answers now, and why not."""
        probe = getattr(self.chat_model, "probe", None)
        if probe is None:
            return True, None
        try:
            probe()
            return True, None
        except BackendUnavailable as exc:
            return False, exc.message

    def ask(self, question, history=None) -> Answer:
        return self.as_runnable().invoke({"question": question, "history": history})

    def prepared(self, question, history=None) -> Prepared:
        """A question read up to drafting: made standalone, retrieved, its retrieval signals and which of the gate's
        models will decide it (`cimic gate --refresh` reads them)."""
        return self._prepared(self._validated({"question": question, "history": history}))

    def ask_stream(self, question, history=None) -> Iterator[dict]:
        """Yields {"type": "token", "text": ...} while the draft streams, then {"type": "answer", "answer": Answer}."""
        yield from self.as_runnable().stream({"question": question, "history": history})

    def as_runnable(self) -> Runnable:
        """The pipeline as a LangChain runnable: validate | prepare | draft | answer (see the module docstring).
        Its input is a question, or {"question": ..., "history": [[user, assistant], ...]}; `invoke`, `batch` and
        `ainvoke` give the Answer, `stream` and `astream` what `ask_stream` yields."""
        if self._runnable is None:
            self._runnable = RunnableSequence(
                RunnableLambda(self._validated, name="validate"),
                RunnableLambda(self._prepared, name="prepare"),
                _Step("draft", self._drafted),
                _Step("answer", lambda drafted: iter((self._answered(drafted),)),
                      streamed=lambda answer: {"type": "answer", "answer": answer}),
                name="cimic-assistant")
        return self._runnable

    # ---- the runnable's steps -----------------------------------------------------------------
    def _validated(self, asked) -> tuple[str, list]:
        question, history = (asked.get("question"), asked.get("history")) if isinstance(asked, dict) else (asked, None)
        return validate(question, history, self.settings.max_question_chars, self.settings.max_history_turns)

    def _prepared(self, validated: tuple[str, list]) -> Prepared:
        return self._prepare(*validated)

    def _drafted(self, prep: Prepared) -> Iterator:
        """Token events while the draft streams, then a `Drafted` (no draft when the gate refuses before drafting)."""
        early = self.gate.worth_drafting(prep.gate_kind, prep.signals)
        if not early.answer or prep.unstated:  # no draft can give what the document's record does not state
            yield Drafted(prep, None, replace(early, answer=False))
            return
        draft = None
        for event in self._draft(prep):
            if event["type"] == "draft":
                draft = event["draft"]
            else:
                yield event
        yield Drafted(prep, draft)

    def _answered(self, drafted: Drafted) -> Answer:
        """The draft's sentences checked against the passages, the gate's decision, and the Answer."""
        prep, draft = drafted.prep, drafted.draft
        if draft is None:
            return self._refusal(prep, drafted.early, None, Checked((), ()), "not drafted", quoted=self._extractive(prep))
        checked = Checked((), ()) if draft.model_refused else self._check(draft.text, prep.retrieval)
        quoted = self._extractive(prep) if draft.drafter == "llm" else None
        confirms = self._confirmation(prep, quoted) if draft.drafter == "llm" else draft.confirms
        signals = replace(prep.signals, model_refused=float(draft.model_refused), draft_support=checked.support,
                          model_doubt=draft.doubt if draft.doubt is not None else float(draft.model_refused),
                          model_confirms=1.0 if confirms is None else confirms)
        if draft.summary:  # the model's lead after quoted points: checked as any draft, after the signals were read
            lead = self._check(draft.summary, prep.retrieval)
            checked = Checked(checked.kept + lead.kept, checked.unsupported + lead.unsupported, checked.recited + lead.recited)
        raw, drafted_check = draft.text, checked
        if draft.drafter == "llm" and (draft.model_refused or not checked.kept):
            # the model refused or wrote nothing the sources hold: the sources' own best sentences, if the gate agrees
            why = ("the local model found no answer" if draft.model_refused
                   else "the local model's draft could not be grounded")
            draft = Draft(quoted or "", "extractive", True,
                          f"{why}; this answer quotes the passages that come closest", raw, draft.doubt)
            checked = Checked(self._check(draft.text, prep.retrieval).kept, checked.unsupported)
        decision = self.gate.decide(prep.gate_kind, signals)
        # the chat model's refusal stands unless the gate, reading it among its signals, answers all the same
        model_refusal = ("overridden" if decision.answer and checked.kept else "stood") if signals.model_refused else None
        if not decision.answer or not checked.kept:
            return self._refusal(prep, decision, draft, checked, "refusal", drafted_check,
                                 quoted if quoted is not None else draft.text if draft.drafter == "extractive" else None,
                                 model_refusal)
        return self._final(prep, decision, draft, checked, drafted_check, model_refusal)

    # ---- steps --------------------------------------------------------------------------------
    def _prepare(self, question: str, history: list) -> Prepared:
        t0 = time.perf_counter()
        self.retriever.refresh_if_changed()
        standalone = self.retriever.correct(standalone_question(expand_contractions(question), history))
        t = time.perf_counter()
        retrieval = self.retriever.retrieve(standalone, self.settings.top_k)
        timings = {"retrieval_ms": round((time.perf_counter() - t) * 1000, 1)}
        signals, weights = retrieval_signals(standalone, retrieval, self.retriever)
        passages = retrieval.passages
        open_question = self.forms.is_open(standalone)
        # a glossary entry answers what a term is, not the points a question asks about it by name ("what are the
        # barriers to civil-military cooperation" names the term and asks for barriers: `language.is_open`'s rules)
        if (passages and passages[0].glossary_match and passages[0].chunk.kind == "glossary"
                and is_definitional(standalone) and not is_open(standalone)):
            drafter = "glossary"
        elif open_question:
            # an open question's points are quoted, cited, from the passages (`drafting.extractive_answer`): the local
            # model reads 130 words in its first-token budget, too few to hold the points; a chat model confirms the
            # sources' closest sentences (`points_confirmation`) and sums the points up after them (`_summary`)
            drafter = "extractive"
        else:
            drafter = self.kind
        gate_kind = self.kind if drafter != "extractive" else "extractive" if self.chat_model is None else "points"
        return Prepared(question, tuple(history), standalone, retrieval, signals, weights, drafter, gate_kind, t0, timings,
                        open_question, self._unstated(standalone, retrieval))

    def _draft(self, prep: Prepared) -> Iterator[dict]:
        """Token events while drafting, then {"type": "draft", "draft": Draft}."""
        t = time.perf_counter()
        passages = prep.retrieval.passages
        notice = None
        if prep.drafter == "llm":
            context = compress(prep.standalone, passages)
            try:
                msgs = messages("answer", question=prep.standalone,
                                passages=[{"n": n, "text": text} for n, (_, text) in enumerate(context, start=1)])
                pieces, first = [], {}
                for piece in self.chat_model.stream(msgs, self.settings.max_answer_tokens, first_token=first):
                    if not pieces:
                        prep.timings["ttft_ms"] = round((time.perf_counter() - prep.t0) * 1000)
                    pieces.append(piece)
                    yield {"type": "token", "text": piece}
                # the prompt numbers only the passages it shows: back to the retrieved passages' numbers
                text = renumber_markers("".join(pieces), {n: k + 1 for n, (k, _) in enumerate(context, start=1)})
                text = expand_fragments(text, passages, prep.standalone)
                prep.timings["generate_ms"] = round((time.perf_counter() - t) * 1000)
                refused = model_refuses(text)
                yield {"type": "draft", "draft": Draft(text, "llm", refused, doubt=refusal_odds(first, refused))}
                return
            except BackendUnavailable as exc:
                notice = f"{exc.message}; this answer was assembled from the sources without the chat model"
        if prep.drafter == "glossary":
            draft = Draft(glossary_answer(passages[0]), "glossary")
        else:
            draft = Draft(self._extractive(prep) or NOT_IN_SOURCES, "extractive",
                          notice=notice)
        prep.timings["ttft_ms"] = round((time.perf_counter() - prep.t0) * 1000)
        yield {"type": "token", "text": draft.text}
        # with a chat model, the extractive drafter was chosen for an open question's points (`_prepare`): the model's
        # confirmation is the one draft signal the points' gate reads, so whether it answers is known once it is read
        if self.chat_model is not None and prep.drafter == "extractive":
            draft = replace(draft, confirms=self.points_confirmation(prep))
            if self.gate.decide(prep.gate_kind, replace(prep.signals, model_confirms=draft.confirms)).answer:
                draft = replace(draft, summary=(yield from self._summary(prep, draft.text)))
        yield {"type": "draft", "draft": draft}

    def _summary(self, prep: Prepared, points: str) -> Iterator[dict]:
        """The chat model's lead for an open question's quoted points, after them: one token event with it once
        written (not piece by piece: a refusal or a copied point is never shown), and returned; None when the
        model refused, copied a point, was cut off before its sentence ended or went away. It reads only the points,
        so its prompt stays short, and it is stopped once its lead is settled (`_lead_settled`); the support check
        reads the lead like any draft."""
        listed = [{"n": cited[0], "text": plain} for plain, cited in cited_sentences(points) if cited]
        if not listed:
            return None
        quoted = [content_words(p["text"]) for p in listed]
        t = time.perf_counter()
        try:
            text = read_until(self.chat_model, messages("summary", question=prep.standalone, points=listed),
                              self.settings.max_summary_tokens, lambda so_far: _lead_settled(so_far, quoted)).strip()
        except BackendUnavailable:
            return None
        finally:
            prep.timings["summary_ms"] = round((time.perf_counter() - t) * 1000)
        said = sentences(text)
        lead = said[0] if said and _ENDED.search(said[0]) else None
        # a sentence that copies a point says nothing new, and one cut off by the token limit is never shown
        if not lead or model_refuses(text) or any(_copies(set(content_words(lead)), set(q)) for q in quoted):
            return None
        yield {"type": "token", "text": f" {lead}"}
        return lead

    def _extractive(self, prep: Prepared) -> str | None:
        """The sources' own best sentences for the question, ranked by its words and their meaning."""
        vector = prep.retrieval.vector
        closeness = (lambda texts: self.retriever.closeness(vector, texts)) if vector else None
        return extractive_answer(prep.standalone, prep.retrieval.passages, weights=prep.weights, closeness=closeness,
                                 open_question=prep.open_question)

    def points_confirmation(self, prep: Prepared) -> float:
        """For an open question whose points are quoted: the chat model's yes to the sentences the sources would give if
        it asked one fact (`_extractive` as for a question not open). On the corpus's dev rows whose points are
        quoted (94 answerable, 94 look-alikes, held out), the gate's points model refuses 32 look-alikes where the
        extractive model refused 16 (4 and 2 answerable; ROC AUC 0.75 -> 0.80); read on the points themselves, the
        model confirmed a look-alike's points as readily as an answerable question's (6 refused). 1.0 when the model
        went away."""
        return self._confirmation(prep, self._extractive(replace(prep, open_question=False)))

    def _confirmation(self, prep: Prepared, quoted: str | None) -> float:
        """The chat model's yes to `quoted` (the sources' closest sentences) answering the question."""
        t = time.perf_counter()
        try:
            return confirmation(self.chat_model, prep.standalone, quoted)
        except BackendUnavailable:
            return 1.0  # the model went away after drafting: the other signals decide, as without a model
        finally:
            prep.timings["verify_ms"] = round((time.perf_counter() - t) * 1000)

    def _check(self, text: str, retrieval: Retrieval) -> Checked:
        texts = [p.chunk.text for p in retrieval.passages]
        kept, unsupported, recited = [], [], 0
        for plain, cited in cited_sentences(text):
            cited = [n for n in cited if 1 <= n <= len(texts)]  # a citation to a passage not retrieved is removed
            use = self._supporting(plain, cited, texts)
            if use:
                kept.append((plain, tuple(use)))
                recited += use != cited
            else:
                unsupported.append(plain)
        return Checked(tuple(kept), tuple(unsupported), recited)

    def _supporting(self, sentence: str, cited: list[int], texts: list[str]) -> list[int]:
        """The citations a sentence keeps: precise ones among its own, else the best passage, else none."""
        if cited:
            alone = [n for n in cited if self.scorer.score(sentence, texts[n - 1]).supported]
            if alone:
                return alone
            if len(cited) > 1 and joint_support(self.scorer, sentence, [texts[n - 1] for n in cited]).supported:
                return cited
        i, support = best_support(self.scorer, sentence, texts)
        return [i + 1] if i is not None and support.supported else []

    # ---- results ------------------------------------------------------------------------------
    def _final(self, prep: Prepared, decision: Decision, draft: Draft, checked: Checked, drafted: Checked,
               model_refusal: str | None = None) -> Answer:
        passages = prep.retrieval.passages
        order: list[int] = []
        for _, cited in checked.kept:
            order += [n for n in cited if n not in order]
        renumber = {old: new for new, old in enumerate(order, start=1)}
        text = " ".join(f"{s} " + "".join(f"[{renumber[n]}]" for n in cited) for s, cited in checked.kept)
        citations = [self._citation(renumber[n], passages[n - 1]) for n in order]
        fallback = "extractive" if draft.replaced is not None else None
        return self._answer(prep, decision, draft, text, False, checked.support, citations, list(checked.unsupported),
                            _check_record(drafted, fallback, model_refusal))

    def _citation(self, n: int, p) -> Citation:
        c = p.chunk
        return Citation(n=n, doc_id=c.doc_id, title=c.title, section=c.section, text=c.text,
                        score=round(float(p.score), 4), page=c.page, chunk_id=p.id)

    def _refusal(self, prep: Prepared, decision: Decision, draft: Draft | None, checked: Checked, fallback: str,
                 drafted: Checked | None = None, quoted: str | None = None, model_refusal: str | None = None) -> Answer:
        """A refusal: what the sources do say about the question's subject, quoted and cited, when they say
        something about it (a partial answer, still a refusal); else the topics they do cover."""
        card = prep.unstated[0] if prep.unstated else None
        partial = (card.chunk.text, card) if card else self._partial(prep, quoted)
        citations = []
        asked = catalogue_detail(prep.standalone) if card else expects(prep.standalone)
        gives = not card and partial is not None and holds(asked, partial[0], prep.standalone)  # the quote holds what is asked
        if asked in PRECISE_KINDS and not gives:
            # "do not give that number" only where no passage on the subject gives one: else the sentence that does is
            # quoted ("how many countries did france ask for help" has "support from 46 countries was requested" in a
            # passage whose closest sentence holds no number), and the gate only doubts that it answers
            found = self._giving(prep, asked)
            if found:
                partial, gives = found, True
        if partial:
            sentence, passage = partial
            # a quote with a number of what is asked is not said to lack it, the gate only doubts that it answers
            text = render("refusal", "partial", asked="" if gives else asked, sentence=f"{sentence} [1]")
            citations = [self._citation(1, passage)]
        else:
            text = render("refusal", "text", topics=_topics(prep.retrieval.passages[:6])[:3])
        return self._answer(prep, decision, draft, text, True, 0.0, citations, list(checked.unsupported),
                            _check_record(drafted or checked, fallback, model_refusal),
                            partial=f"{partial[0]} [1]" if partial else None)

    def _unstated(self, standalone: str, retrieval: Retrieval) -> tuple | None:
        """For a question that asks a detail of a document's record (`language.catalogue_detail`: "who wrote the HHI
        brief?") that the record does not state: a 1-tuple of the catalogue card of the document asked about, or of None
        where it has no card; None when the record states it, or nothing is asked of one. The document asked about is the
        one the question names with most words (`Retrieval.documents`), else the first card retrieved. Quoted as the
        answer, a card without authors gave its publisher for who wrote the brief, and the Wołowiec and Goniewicz
        article's card gave its authors for who wrote the Ukrainian article."""
        detail = catalogue_detail(standalone)
        if detail is None:
            return None
        cards = [p for p in retrieval.passages if p.chunk.kind == "document"]
        if retrieval.documents:
            doc = retrieval.documents[0]
            card = next((p for p in cards if p.chunk.doc_id == doc), None) or self.retriever.card(doc)
        elif cards:
            card = cards[0]
        else:
            return None
        return None if card is not None and card_states(card.chunk.text, detail) else (card,)

    def _partial(self, prep: Prepared, quoted: str | None):
        """The sources' closest sentence and its passage, when the support check grounds it and it names the
        question's subject (its words, in the sentence, its heading or its document's title); else None: a
        question about something the sources never mention gets no quote beside the point."""
        if not quoted:
            return None
        kept = self._check(quoted, prep.retrieval).kept
        if not kept:
            return None
        sentence, cited = kept[0]
        passage = prep.retrieval.passages[cited[0] - 1]
        return (sentence, passage) if _names_subject(prep.standalone, sentence, passage.chunk) else None

    def _giving(self, prep: Prepared, asked: str):
        """The first sentence, in the passages' order, that holds the detail the question asks for (`language.holds`: a
        number of what it counts, or a date) in a passage that names its subject, with its passage; None when none does.
        A source sentence: grounded by what it is."""
        for passage in prep.retrieval.passages:
            if _names_subject(prep.standalone, passage.chunk.text, passage.chunk):
                for sentence in sentences(passage.chunk.text):
                    if holds(asked, sentence, prep.standalone):
                        return sentence, passage
        return None

    def _answer(self, prep: Prepared, decision: Decision, draft: Draft | None, text: str, refused: bool,
                grounding: float, citations, unsupported, check: dict, partial: str | None = None) -> Answer:
        prep.timings.setdefault("ttft_ms", round((time.perf_counter() - prep.t0) * 1000))
        drafter = draft.drafter if draft else prep.drafter
        backend = {"glossary": f"{self.backend} (glossary)", "extractive": "extractive"}.get(drafter, self.backend)
        if draft and draft.summary and not refused:
            backend = f"{self.backend} (points quoted)"
        return Answer(
            answer=text, refused=refused, grounding=round(grounding, 4), citations=citations, unsupported=unsupported,
            backend=backend,
            latency_ms=round((time.perf_counter() - prep.t0) * 1000), question=prep.question,
            standalone_question=prep.standalone,
            retrieved=list(prep.retrieval.ranked),
            notice=draft.notice if draft and not refused else None, timings=dict(prep.timings),
            draft=(draft.replaced or " ".join(filter(None, (draft.text, draft.summary)))) if draft else "",
            gate=decision.as_dict(), check=check,
            partial=partial,
        )


def _names_subject(question: str, text: str, chunk) -> bool:
    """Whether a source text (a sentence, or its whole passage) names the question's subject (its words, in the text,
    its heading or its document's title); a catalogue card never does (it describes a document, not what it says)."""
    subject = set(content_words(subject_of(question)))
    return (bool(subject) and chunk.kind != "document"
            and subject <= set(content_words(f"{text} {chunk.section} {chunk.term or ''} {chunk.title}")))


_END = object()


def _is_token(item) -> bool:
    return isinstance(item, dict) and item.get("type") == "token"


class _Step(Runnable):
    """A step of the pipeline as a LangChain runnable. `run(record)` yields the step's token events and, last,
    its result. `invoke` returns the result; `transform` (and so `stream` in a sequence) passes on the token
    events as they come, those of the steps before it too, and then `streamed(result)`. Each record is one
    callback run of the step's name. A reader that stops early closes the step, and so the chat model's
    stream (LangChain's own stream helper would read it to the end first)."""

    def __init__(self, name: str, run: Callable[[Any], Iterator], streamed: Callable[[Any], Any] | None = None):
        self.name = name
        self._run = run
        self._streamed = streamed or (lambda result: result)

    def _result(self, record):
        result = None
        for result in self._run(record):
            pass
        return result

    def invoke(self, input, config: RunnableConfig | None = None, **kwargs):
        return self._call_with_config(self._result, input, config)

    def transform(self, input: Iterator, config: RunnableConfig | None = None, **kwargs) -> Iterator:
        config = ensure_config(config)
        for item in input:
            if _is_token(item):
                yield item
                continue
            run = get_callback_manager_for_config(config).on_chain_start(
                None, item, name=config.get("run_name") or self.get_name(), run_id=config.pop("run_id", None))
            result = None
            try:
                with set_config_context(patch_config(config, callbacks=run.get_child())) as context:
                    events = context.run(self._run, item)
                    while (out := context.run(next, events, _END)) is not _END:
                        if _is_token(out):
                            yield out
                        else:
                            result = out
                            yield self._streamed(out)
            except BaseException as exc:
                run.on_chain_error(exc)
                raise
            run.on_chain_end(result)

    async def atransform(self, input, config: RunnableConfig | None = None, **kwargs):
        """As `transform`, the step's own work in a worker thread, one event at a time."""
        config = ensure_config(config)
        async for item in input:
            if _is_token(item):
                yield item
                continue
            run = await get_async_callback_manager_for_config(config).on_chain_start(
                None, item, name=config.get("run_name") or self.get_name(), run_id=config.pop("run_id", None))
            result = None
            try:
                with set_config_context(patch_config(config, callbacks=run.get_child())) as context:
                    events = await run_in_executor(None, context.run, self._run, item)
                    while (out := await run_in_executor(None, context.run, next, events, _END)) is not _END:
                        if _is_token(out):
                            yield out
                        else:
                            result = out
                            yield self._streamed(out)
            except BaseException as exc:
                await run.on_chain_error(exc)
                raise
            await run.on_chain_end(result)

    def stream(self, input, config: RunnableConfig | None = None, **kwargs) -> Iterator:
        yield from self.transform(iter([input]), config, **kwargs)

    async def astream(self, input, config: RunnableConfig | None = None, **kwargs):
        async def one():
            yield input

        async for out in self.atransform(one(), config, **kwargs):
            yield out


def _topics(passages) -> list[str]:
    """What a refusal suggests: the real topics of the passages, in order: a glossary term, a section heading of an
    English passage, else the document's title; never front matter (an abstract, keywords, references: the title
    instead), a heading that names a part of any paper ("Introduction": the title), a heading over text in another
    language (the abstract in Polish: the title), nor a file's name."""
    topics: list[str] = []
    for p in passages:
        c = p.chunk
        heading = c.section.split(" > ")[-1].strip()
        if c.term:
            name = c.term.strip()
        elif (c.kind == "document" or not heading or heading.casefold().rstrip(":") in FRONT_MATTER | PAPER_PARTS
              or not reads_as_english(c.text)):
            name = c.title.strip()
        else:
            name = heading
        if name and name not in topics and not _file_like(name, c.path) and name.casefold() not in FRONT_MATTER:
            topics.append(name)
    return topics


def _file_like(name: str, path: str) -> bool:
    """Whether a name is a file's name ("notes.txt", or the stem of the file it came from)."""
    stem = Path(path or "").stem
    return (bool(re.fullmatch(r"\S+\.[A-Za-z][A-Za-z0-9]{0,4}", name))
            or name.casefold() in {Path(path or "").name.casefold(), stem.casefold(),
                                   stem.replace("_", " ").casefold(), stem.replace("-", " ").casefold()})


def _copies(words: set[str], point: set[str], share: float = 0.8) -> bool:
    """Whether most of a sentence's content words are one quoted point's."""
    return bool(words) and len(words & point) >= share * len(words)


# a sentence ends with its full stop (a closing quote or bracket after it) or with its citation markers
_ENDED = re.compile(r"""(?:[.!?]["”’')]*|\])\s*$""")
# a lead that opens with this many of a point's content words in a row is copying the point (and would be dropped)
COPIED_RUN = 8


def _lead_settled(text: str, points: list[list[str]]) -> bool:
    """Whether the model's lead, read so far, is settled: its first sentence has ended and another begun (the
    prompt asks for one sentence), or it opens by repeating `COPIED_RUN` content words of a point in a row (a gist
    that borrows a point's phrase further on is read to its end, and judged whole by `_copies`)."""
    said = sentences(text)
    if len(said) > 1 and content_words(" ".join(said[1:])):
        return True
    opening = tuple(content_words(said[0])[:COPIED_RUN]) if said else ()
    return len(opening) == COPIED_RUN and any(tuple(p[i:i + COPIED_RUN]) == opening
                                               for p in points for i in range(len(p) - COPIED_RUN + 1))


def _check_record(drafted: Checked, fallback: str | None, model_refusal: str | None = None) -> dict:
    """What the support check did to the first draft: its sentences, those dropped as unsupported, those
    re-cited, what the answer fell back to ("extractive" quoting, a "refusal" after the check, "not
    drafted": refused before drafting; None: the draft's own kept sentences), and what became of the chat
    model's refusal ("stood", "overridden" by the gate; None: it did not refuse)."""
    return {"draft_sentences": drafted.sentences, "dropped": len(drafted.unsupported), "recited": drafted.recited,
            "fallback": fallback, "model_refusal": model_refusal}


def build_assistant(settings, embedder=None, chat_model=None, retriever=None, scorer=None, gate=None) -> Assistant:
    """Wire the parts from settings; tests pass their own parts through the arguments."""
    from assistant.answering import gate as gates
    from assistant.index.store import open_reader

    if embedder is None:
        from assistant.index.embeddings import make_embedder

        embedder = make_embedder(settings)
    if retriever is None:
        retriever = HybridRetriever(lambda: open_reader(settings, embedder.name), embedder,
                                    token=_generation_token(settings))
        retriever.refresh()
    if chat_model is None and settings.llm_backend != "extractive":
        chat_model = make_chat_model(settings)
    if gate is None:
        gate = gates.load(settings.resolved(settings.gate_file), settings.gate_off_signals(), settings.refusal_budget,
                          settings.wrong_answer_cost)
    return Assistant(settings, retriever, chat_model, gate, scorer)


def assistant_over(settings, knowledge_dir: Path, store_dir: Path, embedder, chat_model=None, gate=None) -> Assistant:
    """An assistant over another knowledge folder, indexed into `store_dir` (only what changed is embedded),
    sharing an embedder and a chat model (none: extractive); with the fitted gate unless one is given."""
    from assistant.ingest.indexer import ingest

    s = settings.model_copy(update={"knowledge_dir": Path(knowledge_dir), "store_dir": Path(store_dir), "chroma_url": None,
                                    **({"llm_backend": "extractive"} if chat_model is None else {})})
    ingest(s, embedder)
    return build_assistant(s, embedder=embedder, chat_model=chat_model, gate=gate)


def _generation_token(settings):
    """A callable telling the index's current state: the embedded store's CURRENT manifest, or the
    Chroma server's last ingest."""
    from assistant.index.store import Segments, ServerGeneration

    if settings.chroma_url:
        return ServerGeneration(settings)
    return Segments(settings.store_dir).current_name
