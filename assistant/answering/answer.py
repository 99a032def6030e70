"""The Answer contract (the README's "Answer" contract): what `Assistant.ask`, `cimic ask --json` and `POST /api/ask` return."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    page: int | None = None
    chunk_id: str = ""


@dataclass
class Answer:
    answer: str
    refused: bool
    grounding: float
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    backend: str = ""
    latency_ms: int = 0
    question: str = ""
    standalone_question: str = ""
    retrieved: list[str] = field(default_factory=list)  # chunk ids, in rank order (for the evals)
    notice: str | None = None  # e.g. "the chat server is down; answered extractively"
    timings: dict = field(default_factory=dict)
    draft: str = ""  # the drafter's text before the support check (for the evals)
    gate: dict = field(default_factory=dict)  # the answer gate's decision: probability, threshold, signals
    check: dict = field(default_factory=dict)  # what the support check did to the draft (pipeline._check_record)
    partial: str | None = None  # a refusal's quote of what the sources do say about the subject, cited [1]

    def to_dict(self) -> dict:
        return asdict(self)
