"""The independent judge: its hand labels, its agreement with the held-out half, and a hand-made answer
on which it and the chain's scorer disagree, both ways, shown as such in the report (real MiniLM)."""

from collections import Counter

import pytest

from conftest import ROOT

LABELS = ROOT / "evals" / "labels"
CMI = ("Civil-Military Interaction (CMI)\nCMI is one of the two core activities of CIMIC.\nCMI includes outreach, "
       "engagement with non-military actors, civil-military liaisons (platforms or liaison officers), consultation, "
       "and collaboration.")


@pytest.fixture(scope="module")
def judged(embedder):
    from assistant.answering.grounding import LexicalSupportScorer
    from assistant.evaluation.judge import calibrated_judge

    return calibrated_judge(embedder, LABELS, LexicalSupportScorer())


def test_the_labels_are_many_varied_and_split():
    from assistant.evaluation.runner import calibrate
    from assistant.evaluation.judge import read_labels

    pairs = read_labels(LABELS)
    assert len(pairs) + calibrate(LABELS)["labels"] >= 300
    halves = Counter((r["half"], r["supported"]) for r in pairs)
    assert all(halves[(h, y)] >= 30 for h in ("calibration", "test") for y in (True, False)), halves
    assert {r["backend"] for r in pairs} == {"extractive", "local"} and len({r["source"] for r in pairs}) == 2
    kinds = Counter(r["pairing"] for r in pairs)
    assert kinds["changed number"] >= 20 and kinds["changed name"] >= 20 and kinds["other retrieved passage"] >= 50
    # the halves never share a question: the judge is tested on cases its calibration did not see
    cases = {h: {(r["source"], r["case"]) for r in pairs if r["half"] == h} for h in ("calibration", "test")}
    assert not cases["calibration"] & cases["test"]


def test_the_judge_agrees_with_the_held_out_labels(judged):
    _, figures = judged
    print(figures)
    assert figures["test_labels"] >= 100
    assert figures["balanced_accuracy"] >= 0.85 and figures["kappa"] >= 0.7


def test_disagreements_with_the_chains_scorer_show_in_the_report(judged):
    from assistant.evaluation.runner import Case, score_case
    from assistant.answering.grounding import LexicalSupportScorer
    from assistant.evaluation.report import render_report

    judge, _ = judged
    wrong_subject = "CIMIC is one of the two core activities of CIMIC."  # every word is in the passage; the subject is wrong
    paraphrase = ("CMI covers reaching out to and engaging with actors outside the military, liaison, consultation "
                  "and working together.")  # stated, in other words
    answer = {"answer": f"{wrong_subject} [1] {paraphrase} [1]", "refused": False, "retrieved": ["c1"],
              "citations": [{"n": 1, "title": "Glossary", "section": "CMI", "text": CMI, "chunk_id": "c1"}],
              "draft": f"{wrong_subject} [1] {paraphrase} [1]",
              "check": {"draft_sentences": 2, "dropped": 0, "recited": 0, "fallback": None}}
    case = Case("hand-made", "What is CMI?", True, ["CMI is one of the two core activities of CIMIC."], [], [], "answerable")
    row = score_case(case, answer, [CMI], 4, LexicalSupportScorer(), judge)
    first, second = row["sentences"]
    assert first["grounded"] and not first["judge"]
    assert second["judge"] and not second["grounded"]
    assert row["groundedness"] == 0.5 and row["judge_groundedness"] == 0.5 and row["judge_citation_precision"] == 0.5
    assert row["draft_groundedness"] == 0.5 and row["dropped_sentences"] == 0.0

    from assistant.evaluation.runner import summarise

    report = {"meta": {"cases": 1, "dataset": "hand-made", "backend": "extractive", "top_k": 4, "support_threshold": 0.6,
                       "started": "", "finished": "", "seconds": 0}, "summary": summarise([row]), "splits": {},
              "by_dataset": {}, "judge": judged[1], "calibration": None, "gates": {"split": "all", "thresholds": {}, "missed": []},
              "comparison": None, "cases": [row]}
    html = render_report(report)
    assert "Sentence 1: the chain's scorer grounds it; the judge does not." in html
    assert "Sentence 2: the chain's scorer does not ground it; the judge does." in html
