"""The int8 ONNX embedder against the original on torch (both real, from the packaged model), and an
index built with another embedder rebuilt, not mixed."""

import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def passages() -> list[str]:
    text = (ROOT / "knowledge" / "000_6768f1f45eb71369.txt").read_text(encoding="utf-8")
    paras = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 150]
    return paras[:40]


def test_int8_onnx_vectors_agree_with_the_original(embedder):
    from assistant.index.embeddings import MiniLMEmbedder, OnnxMiniLMEmbedder

    assert isinstance(embedder, OnnxMiniLMEmbedder)  # the default
    texts = passages()
    assert len(texts) >= 20
    fast = np.asarray(embedder.embed(texts))
    slow = np.asarray(MiniLMEmbedder().embed(texts))
    cos = (fast * slow).sum(1)
    print(f"cosine int8 ONNX vs torch over {len(texts)} passages: mean {cos.mean():.4f}, min {cos.min():.4f}")
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-4)
    assert cos.mean() >= 0.99 and cos.min() >= 0.97
    # the order in which a question ranks the passages is (almost) the same
    q_fast = np.asarray(embedder.embed(["What does civil-military cooperation support?"]))[0]
    q_slow = np.asarray(MiniLMEmbedder().embed(["What does civil-military cooperation support?"]))[0]
    assert list(np.argsort(-fast @ q_fast)[:3]) == list(np.argsort(-slow @ q_slow)[:3])
    # texts are sorted by length inside a call; the vectors come back in the caller's order. int8
    # activations are scaled per batch, so a text's vector moves a little with its batch, no more
    one_by_one = np.asarray([embedder.embed([t])[0] for t in texts[:8]])
    alone = (one_by_one * fast[:8]).sum(1)
    print(f"cosine alone vs in a batch: min {alone.min():.4f}")
    assert alone.min() >= 0.98
    assert np.array_equal(np.asarray(embedder.embed(texts[:8])), np.asarray(embedder.embed(texts[:8])))  # deterministic


def test_an_index_built_with_another_embedder_is_rebuilt(knowledge, make_settings, embedder):
    from assistant.ingest.indexer import ingest
    from assistant.index.store import open_reader
    from fakes import HashEmbedder

    settings = make_settings()
    ingest(settings, HashEmbedder())
    again = ingest(settings, embedder)
    assert again.added == again.chunks > 60 and again.kept == 0  # nothing of the other embedder's is kept
    store, _ = open_reader(settings, embedder.name)  # opens: every vector is the new embedder's
    try:
        assert store.count() == again.chunks
    finally:
        store.close()


def test_sentence_closeness_is_the_cosine_of_real_vectors_and_embeds_a_sentence_once(embedder):
    """The retriever's `closeness` (the extractive drafter ranks sentences by it) gives the cosine of the
    question's vector to each sentence's, and a sentence seen for an earlier question is not embedded again."""
    from assistant.retrieval.hybrid import HybridRetriever

    embedded = []

    class Counting:
        def embed(self, texts):
            embedded.extend(texts)
            return embedder.embed(texts)

    retriever = HybridRetriever(open_store=None, embedder=Counting())
    query = embedder.embed(["How many soldiers did the force comprise?"])[0]
    sents = ["The COVID Support Force comprised up to 23,000 soldiers and reservists.",
             "The liaison cell keeps the civil contact roster of the brigade."]
    near = retriever.closeness(query, sents)
    expected = [float(np.dot(query, v)) for v in embedder.embed(sents)]
    assert near == pytest.approx(expected, abs=1e-5) and near[0] > near[1]
    assert retriever.closeness(query, sents[::-1]) == pytest.approx(near[::-1], abs=1e-6)
    assert embedded == sents  # the second question's sentences came from the cache
