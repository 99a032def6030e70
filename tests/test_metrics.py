"""Each metric on hand-made answers whose scores are known, edge cases included (never NaN)."""

import math

import pytest

from assistant.answering.grounding import LexicalSupportScorer
from assistant.evaluation.metrics import answer_scores, fact_recall, mean_ci, retrieval_scores

CSF = ("In response to the COVID-19 pandemic, the United Kingdom launched Operation Rescript in March 2020, "
       "which gave rise to the COVID Support Force (CSF), comprising up to 23,000 soldiers and reservists.")
MACA = "Operation Rescript was carried out according to the Military Aid to the Civil Authorities (MACA) procedure."
PARIS = "Approximately 15,000 soldiers and 45,000 police officers were deployed daily for the Paris Olympic Games."
SCORER = LexicalSupportScorer()


def answer(text, cited, retrieved=("a", "b", "c")):
    ids = {1: "a", 2: "b", 3: "c", 9: "zz"}
    texts = {1: CSF, 2: MACA, 3: PARIS, 9: CSF}
    return {"answer": text, "refused": False, "retrieved": list(retrieved),
            "citations": [{"n": n, "chunk_id": ids[n], "text": texts[n]} for n in cited]}


def test_retrieval_scores_hit_recall_mrr_ndcg():
    got = retrieval_scores([PARIS, CSF, MACA], ["launched Operation Rescript in March 2020", "MACA) procedure"], k=3)
    assert got["hit"] == 1.0 and got["recall"] == 1.0 and got["mrr"] == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert got["ndcg"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / ideal)
    miss = retrieval_scores([PARIS], ["launched Operation Rescript"], k=3)
    assert miss == {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0}
    assert retrieval_scores([CSF, PARIS], ["Operation Rescript", "not anywhere"], k=1)["recall"] == 0.5


def test_a_fully_supported_answer_scores_one():
    scores, checks = answer_scores(answer(
        "The United Kingdom launched Operation Rescript in March 2020. [1] "
        "It was carried out according to the Military Aid to the Civil Authorities procedure. [2]", [1, 2]),
        [CSF, MACA, PARIS], SCORER)
    assert scores == {"citation_validity": 1.0, "citation_recall": 1.0, "citation_precision": 1.0, "groundedness": 1.0}
    assert [c.cited for c in checks] == [[1], [2]]


def test_a_citation_to_a_passage_that_does_not_support_the_sentence():
    scores, checks = answer_scores(answer("The United Kingdom launched Operation Rescript in March 2020. [3]", [3]),
                                   [CSF, MACA, PARIS], SCORER)
    assert scores["citation_recall"] == 0.0 and scores["citation_precision"] == 0.0
    assert scores["groundedness"] == 1.0  # another retrieved passage does support it
    assert "sentence 1 is not supported by [3]" in checks[0].reason


def test_a_number_that_differs_from_its_source():
    scores, checks = answer_scores(answer("The COVID Support Force comprised up to 32,000 soldiers and reservists. [1]", [1]),
                                   [CSF, MACA, PARIS], SCORER)
    assert scores["citation_recall"] == 0.0 and scores["groundedness"] == 0.0
    assert "the number 32000 does not appear in it" in checks[0].reason


def test_precision_counts_a_needless_extra_citation():
    # [1] alone supports the sentence; [3] neither supports it nor is needed by it
    scores, _ = answer_scores(answer("The United Kingdom launched Operation Rescript in March 2020. [1][3]", [1, 3]),
                              [CSF, MACA, PARIS], SCORER)
    assert scores["citation_recall"] == 1.0 and scores["citation_precision"] == 0.5


def test_joint_support_by_two_citations_is_recall_and_both_are_needed():
    text = "Operation Rescript followed the MACA procedure and its support force comprised up to 23,000 soldiers. [1][2]"
    scores, _ = answer_scores(answer(text, [1, 2]), [CSF, MACA, PARIS], SCORER)
    assert scores["citation_recall"] == 1.0 and scores["citation_precision"] == 1.0


def test_citation_validity_counts_citations_of_passages_not_retrieved():
    scores, _ = answer_scores(answer("The United Kingdom launched Operation Rescript in March 2020. [9]", [9]),
                              [CSF, MACA, PARIS], SCORER)
    assert scores["citation_validity"] == 0.0


def test_edge_cases_are_defined():
    empty, checks = answer_scores(answer("", []), [CSF], SCORER)
    assert empty == {"citation_validity": 1.0, "citation_recall": 0.0, "citation_precision": 0.0, "groundedness": 0.0}
    assert checks == []
    uncited, checks = answer_scores(answer("The United Kingdom launched Operation Rescript in March 2020.", []), [CSF], SCORER)
    assert uncited["citation_recall"] == 0.0 and uncited["citation_validity"] == 1.0 and uncited["groundedness"] == 1.0
    assert checks[0].reason == "sentence 1 cites no passage"
    assert fact_recall("anything", []) == (None, [])
    assert fact_recall("launched in March 2020", [["March 2020", "03/2020"], ["23,000"]]) == (0.5, ["23,000"])
    assert mean_ci([]) == {"mean": None, "low": None, "high": None, "n": 0}
    assert mean_ci([None, 1.0])["mean"] == 1.0


def test_bootstrap_interval_is_deterministic_and_brackets_the_mean():
    xs = [1.0] * 70 + [0.0] * 10
    a, b = mean_ci(xs), mean_ci(xs)
    assert a == b and a["low"] <= a["mean"] <= a["high"] and a["high"] - a["low"] > 0.05 and a["n"] == 80
