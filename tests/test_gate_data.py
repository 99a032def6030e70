"""Leave-one-document-out rows: which document alone answers a case, read as the ingest reads each format; the
retrieval signals measured again (`cimic gate --refresh`) replace only those, for both drafters."""

from __future__ import annotations

import docx

from assistant.evaluation.gate_data import held_by_one_document, merged
from assistant.evaluation.runner import Case


def _case(id_, gold, answerable=True):
    return Case(id_, "q?", answerable, gold, [], [], "answerable" if answerable else "unanswerable", "dev")


def test_a_case_is_held_by_the_one_document_whose_text_holds_its_gold_whatever_the_format(tmp_path):
    (tmp_path / "alpha.md").write_text("# Alpha\n\nThe  liaison   officer meets the mayor every week.\n", encoding="utf-8")
    d = docx.Document()
    d.add_heading("Beta", level=1)
    d.add_paragraph("The civil assessment is shared with the host nation within ten days.")
    d.save(tmp_path / "beta.docx")
    (tmp_path / "both.txt").write_text("Every plan names a coordination cell. Every plan names a coordination cell.",
                                       encoding="utf-8")
    (tmp_path / "gamma.txt").write_text("Every plan names a coordination cell.", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"not a pdf at all")  # skipped, as the ingest skips it
    (tmp_path / "notes.yaml").write_text("source_doc: alpha\n", encoding="utf-8")
    cases = [
        _case("md", ["The liaison officer meets the mayor every week."]),
        _case("docx", ["shared with the host nation within ten days."]),  # read from the .docx's XML, not its bytes
        _case("two-holders", ["Every plan names a coordination cell."]),
        _case("nowhere", ["A sentence no document holds."]),
        _case("unanswerable", ["The liaison officer meets the mayor every week."], answerable=False),
        _case("split-gold", ["The liaison officer meets the mayor every week.", "within ten days"]),
    ]
    held = held_by_one_document(tmp_path, cases)
    assert {f.name: [c.id for c in group] for f, group in held.items()} == {"alpha.md": ["md"], "beta.docx": ["docx"]}


def test_signals_measured_again_replace_the_retrieval_signals_of_both_drafters_and_keep_the_drafts():
    rows = [{"source": "gold", "id": "g1", "kind": "extractive", "answerable": True, "split": "dev",
             "signals": {"dense": 0.1, "answer_type": 1.0}},
            {"source": "gold", "id": "g1", "kind": "llm", "answerable": True, "split": "dev",
             "signals": {"dense": 0.1, "answer_type": 1.0, "model_refused": 1.0, "model_confirms": 0.2}},
            {"source": "oos", "id": "g1", "kind": "extractive", "answerable": False, "split": "dev",
             "signals": {"dense": 0.3, "answer_type": 1.0}}]
    # a draft signal is never taken
    fresh = {("gold", "g1"): {"signals": {"dense": 0.5, "answer_type": 0.0, "model_refused": 0.0}, "points_quoted": True}}
    out, missed = merged(rows, fresh)
    assert missed == 1 and out[2] == rows[2]  # another source's row of the same id is not touched
    assert out[0]["signals"] == {"dense": 0.5, "answer_type": 0.0}
    assert out[1]["signals"] == {"dense": 0.5, "answer_type": 0.0, "model_refused": 1.0, "model_confirms": 0.2}
    assert out[0]["points_quoted"] and out[1]["points_quoted"]  # measured again too: which of the gate's models decides


def test_a_chat_models_confirmation_of_quoted_points_measured_again_replaces_its_own():
    """`cimic gate --refresh --backend local` measures the chat model's confirmation of quoted points again: a chat
    model's row whose points are quoted takes it; an extractive row, or a row whose points are not quoted (its
    confirmation was read after the model's draft), keeps its own."""
    rows = [{"source": "gold", "id": "open", "kind": "llm", "answerable": False, "split": "dev",
             "signals": {"dense": 0.1, "model_confirms": 1.0}},
            {"source": "gold", "id": "open", "kind": "extractive", "answerable": False, "split": "dev",
             "signals": {"dense": 0.1, "model_confirms": 1.0}},
            {"source": "gold", "id": "fact", "kind": "llm", "answerable": True, "split": "dev",
             "signals": {"dense": 0.2, "model_confirms": 0.9}}]
    fresh = {("gold", "open"): {"signals": {"dense": 0.4, "model_confirms": 0.1}, "points_quoted": True},
             ("gold", "fact"): {"signals": {"dense": 0.6, "model_confirms": 0.3}, "points_quoted": False}}
    out, missed = merged(rows, fresh)
    assert missed == 0
    assert out[0]["signals"] == {"dense": 0.4, "model_confirms": 0.1}
    assert out[1]["signals"] == {"dense": 0.4, "model_confirms": 1.0}
    assert out[2]["signals"] == {"dense": 0.6, "model_confirms": 0.9}


def test_the_extractive_drafter_is_asked_every_corpus_case_and_a_chat_model_a_sample_of_the_dev_articles(tmp_path):
    """The extractive gate's 5% ceiling on false refusals is read on every answerable corpus row, not on a sample's
    few: a sample of 160 put the threshold anywhere between 0.10 and 0.15. A chat model, seconds a case, drafts a
    fixed sample per article, thinned, and only the dev articles' where the rows are for fitting (`dev_only`)."""
    import json

    from assistant.evaluation.gate_data import corpus_cases, corpus_for

    lines = []
    for a, article in enumerate(["Alpha", "Beta", "Gamma"]):  # Alpha and Gamma dev, Beta test
        for i in range(30):
            lines.append({"id": f"{a}-{i}", "question": f"q {i}?", "answerable": i % 3 != 0, "article": article,
                          "gold": ["g"], "facts": [["f"]]})
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    every = corpus_for(None, tmp_path, per_article=10, llm_sample=600)
    assert sorted(c.id for c in every) == sorted(x["id"] for x in lines)
    assert {c.split for c in every if c.id.startswith("1-")} == {"test"}
    assert {c.group for c in every if c.id.startswith("2-")} == {"Gamma"}  # held out with its article
    sample = corpus_cases(tmp_path, 10)
    assert len(sample) == 30 and sum(c.answerable for c in sample) == 15  # 10 per article, half unanswerable
    assert corpus_for("model", tmp_path, 10, 600) == sample
    dev = corpus_for("model", tmp_path, 10, 600, dev_only=True, answerable_only=True)
    assert len(dev) == 10 and all(c.split == "dev" and c.answerable for c in dev)
    assert len(corpus_for("model", tmp_path, 10, 4, dev_only=True)) == 4
