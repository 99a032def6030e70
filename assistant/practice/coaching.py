"""One sentence of written feedback on a graded practice answer, by the chat model, grounded like an answer.

The grade comes from `grading.py` alone and is never changed here. Afterwards, on request, the chat model
reads the question, its passage (numbered [1]), the grade, the key points the answer missed, what the
grader found wrong and the trainee's answer, and writes one sentence saying what the passage states.
That sentence is kept only when the project's support check (`grounding`: its content words, numbers,
names and negations in the passage) finds it in the passage, exactly as a chat answer's sentence is
checked; it then cites [1]. Otherwise no feedback is shown, with the reason, and the passage with its
highlights (shown with every grade) stays the explanation. A refusal marker, an empty reply or an
unreachable back-end give no feedback either. The trainee's answer is data in the prompt, cut to
`MAX_ANSWER_CHARS`, so a long answer cannot make the prompt slow. Leaves out: feedback without a chat
model (the `extractive` back-end has none: the grade and the highlighted passage are the feedback).
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.language import NOT_IN_SOURCES
from assistant.errors import BackendUnavailable
from assistant.answering.grounding import cited_sentences
from assistant.practice.grading import Grade
from assistant.practice.questions import PracticeQuestion
from assistant.prompts import messages

MAX_ANSWER_CHARS = 600
MAX_TOKENS = 90


@dataclass(frozen=True)
class Feedback:
    text: str | None  # the sentence, ending with its [1]; None when none could be grounded
    note: str  # where it comes from, or why there is none
    citations: tuple[dict, ...] = ()

    def as_dict(self) -> dict:
        return {"text": self.text, "note": self.note, "citations": list(self.citations)}


class Coach:
    def __init__(self, chat_model, scorer):
        self.chat_model = chat_model
        self.scorer = scorer

    def feedback(self, question: PracticeQuestion, answer: str, graded: Grade) -> Feedback:
        msgs = messages("practice_feedback", passage=question.passage, question=question.text, grade=graded.grade,
                        missing=list(graded.missing), wrong=list(graded.wrong),
                        answer=(answer or "(no answer: the trainee gave up)")[:MAX_ANSWER_CHARS])
        try:
            reply = "".join(self.chat_model.stream(msgs, MAX_TOKENS))
        except BackendUnavailable as exc:
            return Feedback(None, f"no written feedback: {exc.message}")
        said = cited_sentences(reply.strip())
        if not said or NOT_IN_SOURCES in reply:
            return Feedback(None, "no written feedback: the model wrote none")
        sentence = said[0][0].strip()
        support = self.scorer.score(sentence, question.passage)
        if not support.supported:
            return Feedback(None, f"no written feedback: the model's sentence is not in the passage ({support.reason()})")
        return Feedback(f"{sentence} [1]", f"written by {self.chat_model.name}, checked against the passage",
                        (question.citation(),))
