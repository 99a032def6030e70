"""Every gold passage of the bundled datasets appears verbatim (whitespace-normalised) in a source."""

import json
from pathlib import Path

from assistant.language import fold

ROOT = Path(__file__).resolve().parent.parent


def test_gold_passages_are_verbatim_in_a_source():
    sources = [fold(p.read_text(encoding="utf-8")) for p in (ROOT / "knowledge").glob("*.txt")]
    for path in (ROOT / "evals" / "datasets").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            assert {"id", "question", "answerable", "gold", "facts"} <= set(case)
            assert case["answerable"] == bool(case["gold"]), case["id"]
            for g in case["gold"]:
                assert any(fold(g) in s for s in sources), f"{case['id']}: gold passage not in any source: {g}"


def test_gold_set_has_the_cases_instructors_need():
    cases = [json.loads(line) for line in (ROOT / "evals" / "datasets" / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(cases) >= 80 and len({c["id"] for c in cases}) == len(cases)
    assert sum(bool(c.get("history")) for c in cases) >= 10  # follow-up conversations
    assert sum(not c["answerable"] and c.get("kind") != "adversarial" for c in cases) >= 10
    assert sum(c.get("kind") == "adversarial" for c in cases) >= 5
    assert sum(c.get("kind") == "two-documents" for c in cases) >= 2


def test_the_reworded_set_is_the_gold_set_typed_otherwise():
    """evals/datasets/reworded.jsonl: every gold case once, reworded as a trainee types it, with the same split,
    label, passages, facts and conversation, so the two sets' figures compare."""
    def read(name):
        return [json.loads(line) for line in (ROOT / "evals" / "datasets" / name).read_text(encoding="utf-8").splitlines()]

    gold = {c["id"]: c for c in read("gold.jsonl")}
    reworded = read("reworded.jsonl")
    assert sorted(c["of"] for c in reworded) == sorted(gold)
    for c in reworded:
        g = gold[c["of"]]
        assert c["id"] == "rw-" + g["id"] and fold(c["question"]) != fold(g["question"]), c["id"]
        for key in ("answerable", "gold", "facts", "kind", "split"):
            assert c[key] == g[key], (c["id"], key)
        assert c.get("history") == g.get("history"), c["id"]
    from assistant.evaluation.runner import Case
    # a rewording goes with its original wherever cases are held out together (the gate's folds)
    assert Case.parse(json.dumps(reworded[0]), "reworded.jsonl:1").group == reworded[0]["of"]
