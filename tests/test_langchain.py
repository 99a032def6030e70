"""LangChain as the spine: our retriever in a user's own LCEL chain, the pipeline as a runnable (invoke,
stream, batch, ainvoke/astream, callbacks), the embedder as LangChain `Embeddings`.

The fast tests run the real hybrid retriever over a real embedded Chroma store of the bundled knowledge,
indexed with the hash embedder; the slow one indexes it with the real MiniLM.
"""

import asyncio
import shutil
from pathlib import Path

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from assistant.answering.answer import Answer
from assistant.answering.gate import OpenGate
from assistant.answering.pipeline import build_assistant
from assistant.config import Settings
from assistant.errors import InvalidQuestion
from assistant.ingest.indexer import ingest
from fakes import HashEmbedder, ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["validate", "prepare", "draft", "answer"]
METADATA = {"id", "doc_id", "title", "section", "kind", "term", "page", "score", "similarity"}


def format_docs(docs: list[Document]) -> str:
    """What a user's chain might do with our documents: number them with their source."""
    return "\n\n".join(f"[{n}] {d.metadata['title']}: {d.page_content}" for n, d in enumerate(docs, start=1))


def _settings(tmp: Path, **kw) -> Settings:
    return Settings(_env_file=None, knowledge_dir=tmp / "knowledge", store_dir=tmp / "index",
                    feedback_db=f"sqlite:///{tmp / 'feedback.db'}", **kw)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """The bundled knowledge indexed once for this module with the hash embedder (the tests only read it)."""
    tmp = tmp_path_factory.mktemp("lc")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    emb = HashEmbedder()
    ingest(_settings(tmp), emb)
    return tmp, emb


def extractive(indexed, **parts):
    tmp, emb = indexed
    return build_assistant(_settings(tmp, llm_backend="extractive"), embedder=emb, **parts)


def same(a: Answer, b: Answer) -> bool:
    """Two answers alike in everything but how long they took."""
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):
        d.pop("latency_ms"), d.pop("timings")
    return da == db


class Steps(BaseCallbackHandler):
    """A LangChain callback handler that notes the chain runs it sees start and end."""

    def __init__(self):
        self.started, self.ended, self.retrievers = [], [], []
        self.names = {}

    def on_chain_start(self, serialized, inputs, *, run_id, **kw):
        self.names[run_id] = kw.get("name")
        self.started.append(kw.get("name"))

    def on_chain_end(self, outputs, *, run_id, **kw):
        self.ended.append((self.names[run_id], type(outputs).__name__))

    def on_retriever_end(self, documents, **kw):
        self.retrievers.append(len(documents))


# ---- the retriever in a user's own LCEL chain ----------------------------------------------------

def test_a_users_lcel_chain_around_our_retriever(indexed):
    hybrid = extractive(indexed).retriever
    retriever = hybrid.as_langchain(k=4)
    assert isinstance(retriever, BaseRetriever)
    chain = retriever | RunnableLambda(format_docs)
    text = chain.invoke("What is CMI?")
    assert text.startswith("[1] ") and "CMI is one of the two core activities of CIMIC" in text

    docs = retriever.invoke("What is CMI?")
    retrieval = hybrid.retrieve("What is CMI?", 4)
    assert [d.id for d in docs] == retrieval.ranked  # best first
    assert all(set(d.metadata) >= METADATA for d in docs)
    first = docs[0]
    assert first.metadata["kind"] == "glossary" and first.metadata["term"].startswith("Civil-Military Interaction")
    assert first.page_content == hybrid.chunks[first.id].text and first.metadata["id"] == first.id
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)

    handler = Steps()
    texts = chain.batch(["What is CMI?", "When was Operation Rescript launched?"], {"callbacks": [handler]})
    assert texts[0] == text and "Rescript" in texts[1]
    assert handler.retrievers == [4, 4]
    assert [d.id for d in asyncio.run(retriever.ainvoke("What is CMI?"))] == [d.id for d in docs]


def test_the_retriever_is_given_its_parts(indexed):
    """Retrieval and fusion stay in HybridRetriever; the glossary matcher, the spelling corrector and the
    sentence-vector cache are small parts it is given (or makes), and its own methods go to them."""
    from assistant.retrieval.glossary import GlossaryMatcher
    from assistant.retrieval.hybrid import HybridRetriever
    from assistant.retrieval.sentences import SentenceVectors
    from assistant.retrieval.spelling import SpellingCorrector

    tmp, emb = indexed
    made = extractive(indexed).retriever
    parts = dict(glossary=GlossaryMatcher(), speller=SpellingCorrector(), sentences=SentenceVectors(emb, size=2))
    given = HybridRetriever(made._open_store, emb, **parts)
    given.refresh()
    assert given.glossary is parts["glossary"] and given.speller is parts["speller"] and given.sentences is parts["sentences"]
    assert given.correct("what are the requirments?") == parts["speller"].correct("what are the requirments?") \
        == "what are the requirements?"
    assert given.glossary_matches("What is CMI?") == parts["glossary"].matches("What is CMI?") == made.glossary_matches("What is CMI?")
    vector = emb.embed(["soldiers"])[0]
    assert given.closeness(vector, ["a", "b", "c"]) == made.closeness(vector, ["a", "b", "c"])
    assert len(parts["sentences"]) == 2  # least recently used first out


# ---- the pipeline as a runnable --------------------------------------------------------------------

QUESTIONS = ["What is CMI?", "When was Operation Rescript launched by the United Kingdom?",
             "Who won the 2022 FIFA World Cup?"]


def test_batch_with_the_extractive_backend_gives_what_ask_gives(indexed):
    a = extractive(indexed)
    follow_up = {"question": "Under which procedure was it carried out?",
                 "history": [["What was Operation Rescript?", "It was ..."]]}
    answers = a.as_runnable().batch(QUESTIONS + [follow_up])
    assert all(isinstance(x, Answer) for x in answers)
    for q, got in zip(QUESTIONS, answers):
        assert same(got, a.ask(q))
    assert same(answers[-1], a.ask(follow_up["question"], follow_up["history"]))
    assert "Operation Rescript" in answers[-1].standalone_question
    assert not answers[0].refused and answers[0].backend == "extractive (glossary)"


def test_stream_yields_the_tokens_then_the_answer_as_ask_stream_does(indexed):
    tmp, emb = indexed
    reply = "Operation Rescript was launched in March 2020 [1]."

    def assistant():
        return build_assistant(_settings(tmp), embedder=emb, chat_model=ScriptedModel([reply]), gate=OpenGate())

    events = list(assistant().as_runnable().stream({"question": QUESTIONS[1]}))
    assert [e["type"] for e in events] == ["token", "token", "answer"]
    assert "".join(e["text"] for e in events[:-1]) == reply  # the model's own pieces, as they came
    answer = events[-1]["answer"]
    assert isinstance(answer, Answer) and not answer.refused and "March 2020" in answer.answer

    through_ask = list(assistant().ask_stream(QUESTIONS[1]))
    assert [e.get("text") for e in through_ask[:-1]] == [e["text"] for e in events[:-1]]
    assert same(through_ask[-1]["answer"], answer)
    assert same(assistant().ask(QUESTIONS[1]), answer)


def test_ainvoke_and_astream(indexed):
    a = extractive(indexed)
    runnable = a.as_runnable()

    async def run():
        answer = await runnable.ainvoke(QUESTIONS[0])
        events = [e async for e in runnable.astream(QUESTIONS[0])]
        both = await runnable.abatch(QUESTIONS[:2])
        return answer, events, both

    answer, events, both = asyncio.run(run())
    assert same(answer, a.ask(QUESTIONS[0]))
    assert [e["type"] for e in events] == ["token", "answer"] and same(events[-1]["answer"], answer)
    assert events[0]["text"] == answer.draft
    assert [x.question for x in both] == QUESTIONS[:2]


def test_a_callback_handler_sees_the_steps_run(indexed):
    runnable = extractive(indexed).as_runnable()
    handler = Steps()
    answer = runnable.invoke("What is CMI?", {"callbacks": [handler]})
    assert handler.started == ["cimic-assistant"] + STEPS
    assert handler.ended == [("validate", "tuple"), ("prepare", "Prepared"), ("draft", "Drafted"), ("answer", "Answer"),
                             ("cimic-assistant", "Answer")]
    assert isinstance(answer, Answer)

    streamed = Steps()
    list(runnable.stream("What is CMI?", {"callbacks": [streamed]}))
    assert streamed.started == ["cimic-assistant"] + STEPS
    assert sorted(name for name, _ in streamed.ended) == sorted(["cimic-assistant"] + STEPS)


def test_bad_input_fails_before_any_event(indexed):
    a = extractive(indexed)
    with pytest.raises(InvalidQuestion):
        a.as_runnable().invoke("   ")
    with pytest.raises(InvalidQuestion):
        next(a.ask_stream("?!"))
    with pytest.raises(InvalidQuestion):
        a.ask(None)


def test_a_reader_that_stops_early_stops_the_model(indexed):
    """Closing the stream (a client gone) closes the chat model's stream, rather than drafting to the end."""
    tmp, emb = indexed

    class Long:
        name = "long"
        pieces, closed = 0, False

        def stream(self, msgs, max_tokens, first_token=None):
            try:
                for _ in range(200):
                    Long.pieces += 1
                    yield "Operation Rescript was launched in March 2020 [1]. "
            finally:
                Long.closed = True

    a = build_assistant(_settings(tmp), embedder=emb, chat_model=Long(), gate=OpenGate())
    events = a.ask_stream(QUESTIONS[1])
    assert next(events)["type"] == "token"
    events.close()
    assert Long.closed and Long.pieces < 5


# ---- the real embedder ------------------------------------------------------------------------------

def test_the_embedders_are_langchain_embeddings():
    from assistant.index.embeddings import MiniLMEmbedder, OnnxMiniLMEmbedder

    assert issubclass(OnnxMiniLMEmbedder, Embeddings) and issubclass(MiniLMEmbedder, Embeddings)


@pytest.mark.slow
def test_a_users_chain_over_the_real_embedder(embedder, tmp_path):
    """The retriever in an LCEL chain over the bundled knowledge indexed with the real MiniLM, and the
    embedder's LangChain methods giving `embed`'s vectors."""
    texts = ["The COVID Support Force comprised up to 23,000 soldiers.", "What is CMI?"]
    assert embedder.embed_documents(texts) == embedder.embed(texts)
    assert embedder.embed_query(texts[1]) == embedder.embed(texts[1:])[0]

    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    settings = _settings(tmp_path, llm_backend="extractive")
    ingest(settings, embedder)
    a = build_assistant(settings, embedder=embedder)
    chain = a.retriever.as_langchain(k=4) | RunnableLambda(format_docs)
    assert "CMI is one of the two core activities of CIMIC" in chain.invoke("What is CMI?")
    docs = a.retriever.as_langchain(k=4).invoke("How many soldiers did the COVID Support Force comprise?")
    assert any("23,000" in d.page_content for d in docs) and docs[0].metadata["similarity"] > 0.3
    answers = a.as_runnable().batch(["What is CMI?", "How many soldiers did the COVID Support Force comprise?"])
    assert not answers[0].refused and "23,000" in answers[1].answer
