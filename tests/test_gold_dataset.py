"""Every gold passage of the bundled datasets appears verbatim (whitespace-normalised) in a source."""

import json
from pathlib import Path

from assistant.text import fold

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
