"""question -> condense -> retrieve -> compress -> answer -> parse citations -> check grounding -> Answer.

The steps are LangChain runnables; answering streams. Every sentence of the final answer carries a
citation to a retrieved passage that supports it: citations to passages that were not retrieved are
removed, an uncited sentence gets the passage that supports it best, and a sentence no passage
supports, or one that states what the question asks about ("the commander") where its passages never
mention it, is dropped and reported in `unsupported`. When retrieval finds nothing relevant enough, the
question names something the retrieved passages never mention (`HybridRetriever.unknown_terms`), the
model says the passages do not hold the answer, or nothing survives the check, the answer is the fixed
refusal naming the closest topics the sources do cover. Leaves out: the HTTP and UI edges.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from assistant.answer import Answer, Citation
from assistant.errors import BackendUnavailable, ConfigError, InvalidQuestion
from assistant.grounding import (LexicalSupportScorer, SupportScorer, best_support, cited_sentences, joint_support,
                                 renumber_markers)
from assistant.llm.base import ChatModel, complete, make_chat_model
from assistant.prompts import messages, render
from assistant.responders import compress, extractive_answer, glossary_answer
from assistant.retrieval.condense import acceptable_rewrite, deterministic_rewrite, needs_context
from assistant.retrieval.hybrid import HybridRetriever, Retrieval, is_definitional
from assistant.validation import validate

NOT_IN_SOURCES = "NOT_IN_SOURCES"
_MODEL_REFUSAL = re.compile(r"NOT_IN_SOURCES|(passages|sources|context)\s+(do|does)\s+not\s+(contain|provide|mention|answer|say)"
                            r"|(cannot|can't|unable to)\s+(answer|find)|not\s+(mentioned|provided|stated)\s+in", re.I)


@dataclass
class Turn:
    question: str
    history: list
    standalone: str = ""
    retrieval: Retrieval | None = None
    context: list[tuple[int, str]] = field(default_factory=list)  # (passage index, compressed text)
    draft: str = ""
    mode: str = ""
    notice: str | None = None
    timings: dict = field(default_factory=dict)
    t0: float = 0.0


class Assistant:
    def __init__(self, settings, retriever: HybridRetriever, chat_model: ChatModel | None,
                 scorer: SupportScorer | None = None):
        from langchain_core.runnables import RunnableLambda

        self.settings = settings
        self.retriever = retriever
        self.chat_model = chat_model
        self.scorer = scorer or LexicalSupportScorer()
        self.backend = settings.llm_backend
        self._siblings: dict[str, Assistant] = {}
        self._siblings_lock = threading.Lock()
        self.prepare = RunnableLambda(self._condense) | RunnableLambda(self._retrieve)
        self.finish = RunnableLambda(self._check)

    # ---- public interface -------------------------------------------------------------------
    def for_backend(self, name: str | None) -> "Assistant":
        """This assistant on another back-end (made once, sharing the index and the scorer)."""
        if not name or name == self.backend:
            return self
        with self._siblings_lock:
            if name not in self._siblings:
                settings = self.settings.model_copy(update={"llm_backend": name})
                try:
                    model = make_chat_model(settings)
                except ConfigError as exc:
                    raise InvalidQuestion(f"back-end {name!r} is not available here: {exc.message}") from exc
                self._siblings[name] = Assistant(settings, self.retriever, model, self.scorer)
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
        answer = None
        for event in self.ask_stream(question, history):
            if event["type"] == "answer":
                answer = event["answer"]
        return answer

    def ask_stream(self, question, history=None) -> Iterator[dict]:
        """Yields {"type": "token", "text": ...} while the draft streams, then {"type": "answer", "answer": Answer}."""
        q, hist = validate(question, history, self.settings.max_question_chars, self.settings.max_history_turns)
        turn = self.prepare.invoke(Turn(q, hist, t0=time.perf_counter()))
        if turn.mode == "refuse":
            yield {"type": "answer", "answer": self._refusal(turn)}
            return
        yield from self._draft(turn)
        yield {"type": "answer", "answer": self.finish.invoke(turn)}

    # ---- steps --------------------------------------------------------------------------------
    def _condense(self, turn: Turn) -> Turn:
        t = time.perf_counter()
        turn.standalone = turn.question
        if needs_context(turn.question, turn.history):
            rewritten = None
            if self.chat_model is not None:
                try:
                    out = complete(self.chat_model, messages("condense", history=turn.history[-3:], question=turn.question), 48)
                    out = out.strip().strip('"').splitlines()[0].strip() if out.strip() else ""
                    rewritten = out if acceptable_rewrite(out, turn.question, turn.history) else None
                except BackendUnavailable:
                    rewritten = None
            turn.standalone = rewritten or deterministic_rewrite(turn.question, turn.history)
        turn.timings["condense_ms"] = round((time.perf_counter() - t) * 1000)
        return turn

    def _retrieve(self, turn: Turn) -> Turn:
        t = time.perf_counter()
        self.retriever.refresh_if_changed()
        turn.retrieval = self.retriever.retrieve(turn.standalone, self.settings.top_k)
        turn.timings["retrieval_ms"] = round((time.perf_counter() - t) * 1000, 1)
        passages = turn.retrieval.passages
        unknown = self.retriever.unknown_terms(turn.standalone, passages)  # words the sources never use
        if not passages or turn.retrieval.relevance < self.settings.min_relevance or unknown:
            turn.mode = "refuse"
        elif passages[0].glossary_match and passages[0].chunk.kind == "glossary" and is_definitional(turn.standalone):
            turn.mode = "glossary"
        elif self.chat_model is None:
            turn.mode = "extractive"
        else:
            turn.mode = "llm"
            turn.context = compress(turn.standalone, passages)
        return turn

    def _draft(self, turn: Turn) -> Iterator[dict]:
        t = time.perf_counter()
        if turn.mode == "llm":
            try:
                msgs = messages("answer", question=turn.standalone,
                                passages=[{"n": n, "text": text} for n, (_, text) in enumerate(turn.context, start=1)])
                pieces = []
                for piece in self.chat_model.stream(msgs, self.settings.max_answer_tokens):
                    if not pieces:
                        turn.timings["ttft_ms"] = round((time.perf_counter() - turn.t0) * 1000)
                    pieces.append(piece)
                    yield {"type": "token", "text": piece}
                # the prompt numbers only the passages it shows: back to the retrieved passages' numbers
                turn.draft = renumber_markers("".join(pieces), {n: k + 1 for n, (k, _) in enumerate(turn.context, start=1)})
                turn.timings["generate_ms"] = round((time.perf_counter() - t) * 1000)
                return
            except BackendUnavailable as exc:
                turn.notice = f"{exc.message}; this answer was assembled from the sources without the chat model"
                turn.mode = "extractive"
        if turn.mode == "glossary":
            turn.draft = glossary_answer(turn.retrieval.passages[0])
        else:
            turn.draft = extractive_answer(turn.standalone, turn.retrieval.passages) or NOT_IN_SOURCES
        turn.timings["ttft_ms"] = round((time.perf_counter() - turn.t0) * 1000)
        yield {"type": "token", "text": turn.draft}

    def _check(self, turn: Turn) -> Answer:
        passages = turn.retrieval.passages
        if _MODEL_REFUSAL.search(turn.draft) and turn.mode != "glossary":
            # the small local model sometimes refuses although a passage states the answer outright: quote that
            # passage instead, but only when retrieval is confident and its sentences cover the whole question
            rescue = extractive_answer(turn.standalone, passages, min_coverage=0.75) if (
                turn.mode == "llm" and turn.retrieval.relevance >= self.settings.rescue_relevance) else None
            if not rescue:
                return self._refusal(turn)
            turn.mode, turn.draft = "extractive", rescue
            turn.notice = "the local model found no answer; this answer quotes the passages that state it"
        texts = [p.chunk.text for p in passages]
        kept: list[tuple[str, list[int]]] = []
        unsupported: list[str] = []
        unmentioned: set[str] = set()
        for plain, cited in cited_sentences(turn.draft):
            cited = [n for n in cited if 1 <= n <= len(passages)]  # a citation to a passage not retrieved is removed
            use = self._supporting(plain, cited, texts)
            # a sentence that states what the question asks about ("the commander") where its sources never do
            missing = self.retriever.unmentioned(turn.standalone, plain, [passages[n - 1] for n in use]) if use else []
            if use and not missing:
                kept.append((plain, use))
            else:
                unsupported.append(plain)
                unmentioned.update(missing)
        if not kept and turn.mode == "llm" and not unmentioned:
            # the model wrote only fragments or unsupported text: the sources' own sentences, if they cover the
            # question (not when it stated what the question asks about and no source does: that is a refusal)
            fallback = extractive_answer(turn.standalone, passages)
            if fallback:
                turn.mode, turn.draft = "extractive", fallback
                turn.notice = "the local model's draft could not be grounded; this answer quotes the sources directly"
                return self._check(turn)
        if not kept:
            return self._refusal(turn, unsupported)
        order: list[int] = []
        for _, cited in kept:
            order += [n for n in cited if n not in order]
        renumber = {old: new for new, old in enumerate(order, start=1)}
        text = " ".join(f"{s} " + "".join(f"[{renumber[n]}]" for n in cited) for s, cited in kept)
        citations = [self._citation(renumber[n], passages[n - 1]) for n in order]
        return self._answer(turn, text, False, len(kept) / (len(kept) + len(unsupported)), citations, unsupported)

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
    def _citation(self, n: int, p) -> Citation:
        c = p.chunk
        return Citation(n=n, doc_id=c.doc_id, title=c.title, section=c.section, text=c.text,
                        score=round(float(p.score), 4), page=c.page, chunk_id=p.id)

    def _refusal(self, turn: Turn, unsupported: list[str] | None = None) -> Answer:
        topics = []
        for p in (turn.retrieval.passages if turn.retrieval else [])[:6]:
            c = p.chunk
            name = (c.term or (c.title if c.kind == "document" else c.section.split(" > ")[-1]) or c.title).strip()
            if name and name not in topics and name.lower() not in {"references", "abstract"}:
                topics.append(name)
        text = render("refusal", "text", topics=topics[:3])
        return self._answer(turn, text, True, 0.0, [], unsupported or [])

    def _answer(self, turn: Turn, text: str, refused: bool, grounding: float, citations, unsupported) -> Answer:
        turn.timings.setdefault("ttft_ms", round((time.perf_counter() - turn.t0) * 1000))
        backend = {"glossary": f"{self.backend} (glossary)", "extractive": "extractive"}.get(turn.mode, self.backend)
        return Answer(
            answer=text, refused=refused, grounding=round(grounding, 4), citations=citations, unsupported=unsupported,
            backend=backend,
            latency_ms=round((time.perf_counter() - turn.t0) * 1000), question=turn.question,
            standalone_question=turn.standalone,
            retrieved=list(turn.retrieval.ranked) if turn.retrieval else [],
            notice=turn.notice, timings=dict(turn.timings),
        )


def build_assistant(settings, embedder=None, chat_model=None, retriever=None, scorer=None) -> Assistant:
    """Wire the parts from settings; tests pass their own parts through the arguments."""
    from assistant.store import open_reader

    if embedder is None:
        from assistant.embeddings import MiniLMEmbedder

        embedder = MiniLMEmbedder(settings.embed_batch)
    if retriever is None:
        retriever = HybridRetriever(lambda: open_reader(settings, embedder.name), embedder,
                                    token=lambda: _generation_token(settings))
        retriever.refresh()
    if chat_model is None and settings.llm_backend != "extractive":
        chat_model = make_chat_model(settings)
    return Assistant(settings, retriever, chat_model, scorer)


def _generation_token(settings):
    if settings.chroma_url:
        return settings.chroma_url
    from assistant.store import Generations

    cur = Generations(settings.store_dir).current()
    return cur.name if cur else None
