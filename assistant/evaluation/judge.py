"""An independent support judge for the evaluation: does a passage state what a sentence says?

The chain keeps a sentence only when its own lexical scorer (`answering/grounding.py`: content-word recall plus
hard facts) supports it, so grading the kept sentences with that scorer again proves little. This judge
reads differently: sentence embeddings (the index's MiniLM) compare the sentence with the passage's
closest window (one sentence, or two or three consecutive ones) and with the whole passage; beside them,
the share of the sentence's numbers found in the passage, the share of its other hard facts (names,
acronyms, negations; the same list the scorer reads: the one thing the two share) and whether all are
found (chosen by cross-validation on the calibration half). No content-word overlap. A logistic regression (balanced classes) combines the features; it is fitted on the
calibration half of hand labels that the chain's scorer was never tuned on (`evals/labels/pairs.jsonl`,
`half`), and the report prints its balanced accuracy and Cohen's kappa on the other half, beside the
chain's scorer's on the same labels. Leaves out: entailment proper (no packaged NLI model exists).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import DatasetError
from assistant.answering.grounding import fact_present, hard_facts, strip_markers
from assistant.language import sentences

METHOD = ("logistic regression over MiniLM cosine (closest 1-3 sentence window, whole passage) "
          "and the numbers and other hard facts found; fitted on the calibration half of the hand labels")
FEATURES = ("window_cosine", "passage_cosine", "numbers_found", "facts_found", "all_facts_found")
LABELS_FILE = "pairs.jsonl"


def read_labels(labels_dir: Path, name: str = LABELS_FILE) -> list[dict]:
    path = Path(labels_dir) / name
    if not path.exists():
        return []
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        r = json.loads(line)
        if not {"sentence", "passage", "supported", "half"} <= set(r) or r["half"] not in ("calibration", "test"):
            raise DatasetError(f"{path.name} line {i}: a label needs sentence, passage, supported and half "
                               "('calibration' or 'test')")
        rows.append(r)
    return rows


def agreement(truth: list[bool], predicted: list[bool]) -> dict:
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score

    if len(set(truth)) < 2:
        return {"balanced_accuracy": None, "kappa": None}
    return {"balanced_accuracy": round(float(balanced_accuracy_score(truth, predicted)), 4),
            "kappa": round(float(cohen_kappa_score(truth, predicted)), 4)}


@dataclass
class Judge:
    embedder: object
    model: object = None  # the fitted sklearn LogisticRegression

    def __post_init__(self):
        self._vectors: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            for t, v in zip(new, np.asarray(self.embedder.embed(new), dtype=np.float32)):
                self._vectors[t] = v / (np.linalg.norm(v) or 1.0)

    @staticmethod
    def _windows(passage: str) -> list[str]:
        parts = [s for s in sentences(passage) if s.strip()] or [passage]
        return list(dict.fromkeys(" ".join(parts[i:i + n]) for n in (1, 2, 3) for i in range(len(parts))))

    def features(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        pairs = [(strip_markers(s), p) for s, p in pairs]
        windows = {p: self._windows(p) for _, p in pairs}
        self._embed([s for s, _ in pairs] + [p for p in windows] + [w for ws in windows.values() for w in ws])
        rows = []
        for s, p in pairs:
            v = self._vectors[s]
            facts = hard_facts(s)
            numbers = [f for f in facts if f[0] == "number"]
            others = [f for f in facts if f[0] != "number"]
            found_numbers = [fact_present(k, x, p) for k, x in numbers]
            found_others = [fact_present(k, x, p) for k, x in others]
            rows.append([max(float(self._vectors[w] @ v) for w in windows[p]), float(self._vectors[p] @ v),
                         sum(found_numbers) / len(numbers) if numbers else 1.0,
                         sum(found_others) / len(others) if others else 1.0,
                         float(all(found_numbers) and all(found_others))])
        return np.asarray(rows, dtype=np.float64)

    def fit(self, labels: list[dict]) -> "Judge":
        from sklearn.linear_model import LogisticRegression

        truth = [bool(r["supported"]) for r in labels]
        if len(set(truth)) < 2:
            raise DatasetError("the judge's calibration labels need both supported and unsupported pairs")
        x = self.features([(r["sentence"], r["passage"]) for r in labels])
        self.model = LogisticRegression(class_weight="balanced", C=10.0, max_iter=1000).fit(x, truth)
        return self

    def supported(self, pairs: list[tuple[str, str]]) -> list[bool]:
        if not pairs:
            return []
        return [bool(y) for y in self.model.predict(self.features(pairs))]

    def best(self, sentence: str, passages: list[str]) -> bool:
        """Whether any one of the passages states the sentence."""
        return any(self.supported([(sentence, p) for p in passages]))


def calibrated_judge(embedder, labels_dir: Path, chain_scorer) -> tuple[Judge | None, dict | None]:
    """The judge fitted on the calibration half, and its agreement with the test half beside the chain's
    scorer's; (None, None) without labels."""
    labels = read_labels(labels_dir)
    if not labels:
        return None, None
    calibration = [r for r in labels if r["half"] == "calibration"]
    test = [r for r in labels if r["half"] == "test"]
    judge = Judge(embedder).fit(calibration)
    truth = [bool(r["supported"]) for r in test]
    pairs = [(r["sentence"], r["passage"]) for r in test]
    chain = [chain_scorer.score(s, p).supported for s, p in pairs]
    weights = dict(zip(FEATURES, (round(float(w), 3) for w in judge.model.coef_[0])))
    return judge, {"method": METHOD, **agreement(truth, judge.supported(pairs)), "test_labels": len(test),
                   "calibration_labels": len(calibration), "supported_in_test": sum(truth), "weights": weights,
                   "chain_scorer": agreement(truth, chain)}
