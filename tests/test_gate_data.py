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
    fresh = {("gold", "g1"): {"dense": 0.5, "answer_type": 0.0, "model_refused": 0.0}}  # a draft signal is never taken
    out, missed = merged(rows, fresh)
    assert missed == 1 and out[2] == rows[2]  # another source's row of the same id is not touched
    assert out[0]["signals"] == {"dense": 0.5, "answer_type": 0.0}
    assert out[1]["signals"] == {"dense": 0.5, "answer_type": 0.0, "model_refused": 1.0, "model_confirms": 0.2}
