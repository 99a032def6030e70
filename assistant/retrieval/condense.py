"""Follow-up questions made standalone before retrieval.

"Under which procedure was it carried out?" after "What was Operation Rescript?" becomes a question
that names Operation Rescript. A chat model rewrites it when one is available (prompt
`prompts/condense.yaml`); its output is accepted only if it is one short question. Otherwise, and
for the extractive back-end, a deterministic rewrite puts the previous question's subject in place of
the pronoun. A question that already stands alone is left as it is.
"""

from __future__ import annotations

import re

from assistant.text import STOPWORDS, words

_ANAPHORA = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there|the same|such)\b", re.I)
_LEAD = re.compile(r"^\W*(and|but|so|also|what about|how about)\b", re.I)
_WH = re.compile(r"^\W*(what|who|whom|which|when|where|why|how( many| much| long| often)?|is|are|was|were|do|does|did|"
                 r"can|could|should|would|will|has|have|had|define|describe|explain|tell me about|list|name)\b\s*", re.I)
_AUX = re.compile(r"^(is|are|was|were|does|do|did|the|a|an|meant by|by)\b\s*", re.I)


def needs_context(question: str, history: list) -> bool:
    if not history:
        return False
    return bool(_ANAPHORA.search(question) or _LEAD.search(question) or len(words(question)) <= 3)


def subject_of(question: str) -> str:
    """The noun phrase a question asks about: 'What was Operation Rescript?' -> 'Operation Rescript'."""
    q = question.strip().rstrip("?.! ")
    q = _WH.sub("", q)
    for _ in range(3):
        q = _AUX.sub("", q)
    q = re.split(r"\b(?:carried out|launched|deployed|defined|used|mean|do|did)\b", q)[0].strip(" ,")
    return q


def deterministic_rewrite(question: str, history: list) -> str:
    last_user = next((u for u, _ in reversed(history) if u and u.strip()), "")
    subject = subject_of(last_user)
    if not subject:
        return question
    q = _LEAD.sub("", question).strip()
    q = q[:1].upper() + q[1:]
    replaced, n = re.subn(r"\b(it|they|this|that|these|those|he|she)\b(?!\s+(is|was)\s+(?:not\s+)?(?:a|an|the)\b)",
                          subject, q, count=1, flags=re.I)
    if n:
        return re.sub(r"\b(its|their)\b", f"{subject}'s", replaced, count=1, flags=re.I)
    replaced, n = re.subn(r"\b(its|their)\b", f"{subject}'s", q, count=1, flags=re.I)
    if n:
        return replaced
    return f"{q.rstrip('?')} ({subject})?"


def acceptable_rewrite(candidate: str, question: str, history: list) -> bool:
    c = candidate.strip()
    if not c or "\n" in c or len(c) > 3 * len(question) + 120 or not c.endswith("?"):
        return False
    known = {w for u, a in history for w in words(f"{u} {a or ''}")} | set(words(question))
    new = [w for w in words(c) if w not in known and w not in STOPWORDS]
    return len(new) <= 2  # a rewrite must not bring in facts of its own
