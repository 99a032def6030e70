"""Follow-up questions made standalone before retrieval.

"Under which procedure was it carried out?" after "What was Operation Rescript?" becomes a question
that names Operation Rescript: the subject of the user's last question that stood on its own (so that a
chain of follow-ups keeps its subject) takes the pronoun's place, or, when that subject is longer than
a short name, is added in brackets. The subject comes from the user's own
questions, never from the assistant's answers, so a follow-up keeps the country, operation or actor the
user asked about. A question that stands on its own (it names what it asks about and has no pronoun or
"and ..." opening) is left as it is. Deterministic for every back-end: a chat model that rewrote
follow-ups brought subjects of its own and cost a second model call before the first token.
"""

from __future__ import annotations

import re

from assistant.language import question_terms

_ANAPHORA = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there|the same|such)\b", re.I)
_LEAD = re.compile(r"^\W*(and|but|so|also|what about|how about)\b", re.I)
_WH = re.compile(r"^\W*(what|who|whom|which|when|where|why|how( many| much| long| often)?|is|are|was|were|do|does|did|"
                 r"can|could|should|would|will|has|have|had|define|describe|explain|tell me about|list|name)\b\s*", re.I)
_AUX = re.compile(r"^(is|are|was|were|does|do|did|the|a|an|meant by|by)\b\s*", re.I)


def is_follow_up(question: str) -> bool:
    """It points back ("it", "they", "and ...") or names nothing of its own ("Why?")."""
    return bool(_ANAPHORA.search(question) or _LEAD.search(question) or not question_terms(question))


def needs_context(question: str, history: list) -> bool:
    return bool(history) and is_follow_up(question)


def standalone_question(question: str, history: list) -> str:
    """The question as it would be asked without the conversation (see the module docstring)."""
    if not needs_context(question, history):
        return question
    anchor = next((u for u, _ in reversed(history) if u and u.strip() and not is_follow_up(u)), None)
    return deterministic_rewrite(question, [(anchor, None)]) if anchor else question


_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|on|for|the|and|de|in)\s+)*(?:[A-Z][\w'’-]*|\d{4}\b))*")


def subject_of(question: str) -> str:
    """The name or noun phrase a question asks about: its longest capitalised name ('How many soldiers did
    the COVID Support Force comprise?' -> 'COVID Support Force'), else what follows its question words
    ('What was Operation Rescript?' -> 'Operation Rescript')."""
    q = question.strip().rstrip("?.! ")
    names = [m.group() for m in _NAME.finditer(q) if m.start() > 0]
    if names:
        return max(names, key=len)
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
    if len(subject.split()) > 4:  # a clause, not a name: keep it beside the question
        return f"{q.rstrip('?')} ({subject})?"
    replaced, n = re.subn(r"\b(it|they|this|that|these|those|he|she)\b(?!\s+(is|was)\s+(?:not\s+)?(?:a|an|the)\b)",
                          subject, q, count=1, flags=re.I)
    if n:
        return re.sub(r"\b(its|their)\b", f"{subject}'s", replaced, count=1, flags=re.I)
    replaced, n = re.subn(r"\b(its|their)\b", f"{subject}'s", q, count=1, flags=re.I)
    if n:
        return replaced
    return f"{q.rstrip('?')} ({subject})?"
