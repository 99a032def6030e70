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

from assistant.language import (ANAPHORA, CLAUSE_BREAK, FOLLOW_UP_LEAD, POSSESSIVE_PRONOUN, SUBJECT_PRONOUN, determiners,
                                expects, names_a_name, names_a_thing, question_terms, subject_of, tagged)


def is_follow_up(question: str) -> bool:
    """It opens with "and ...", names nothing of its own ("Why?", "how many were deployed?"), or points back ("it",
    "they") to nothing it names itself: a pronoun after a clause that names its own subject ("What was Operation
    Rescript and who ran it?") points inside the question, so that question stands on its own, and an existential
    "there" ("is there a cimic doctrine", spaCy's tag EX) points nowhere."""
    if FOLLOW_UP_LEAD.search(question) or not question_terms(question) or not names_a_thing(question):
        return True
    existential = {at for _, tag, at in tagged(question) if tag == "EX"}
    pronoun = next((m for m in ANAPHORA.finditer(question) if m.start() not in existential), None)
    if not pronoun:
        return False
    first_clause = CLAUSE_BREAK.split(question[:pronoun.start()], maxsplit=1)
    return not (len(first_clause) == 2 and question_terms(first_clause[0]))


def needs_context(question: str, history: list) -> bool:
    """In a conversation, a follow-up (`is_follow_up`), or a question for a detail (a number, a date, a name:
    `language.expects`) that names no one by name: "how many soldiers were involved?" after a question on Poland's
    armed forces asks for Poland's figure, a detail being always of something, and the question naming no one."""
    return bool(history) and (is_follow_up(question) or (expects(question) is not None and not names_a_name(question)))


def standalone_question(question: str, history: list) -> str:
    """The question as it would be asked without the conversation (see the module docstring)."""
    if not needs_context(question, history):
        return question
    # the anchor stood on its own when it was asked: a conversation's first question always did ("when was the cimic
    # centre of excellence founded" asks for a date and names no one by name, yet "where is it?" after it asks of it)
    anchor = next((u for i, (u, _) in reversed(list(enumerate(history)))
                   if u and u.strip() and not needs_context(u, history[:i])), None)
    return deterministic_rewrite(question, [(anchor, None)]) if anchor else question


def deterministic_rewrite(question: str, history: list) -> str:
    last_user = next((u for u, _ in reversed(history) if u and u.strip()), "")
    subject = subject_of(last_user)
    if not subject:
        return question
    q = FOLLOW_UP_LEAD.sub("", question).strip()
    q = q[:1].upper() + q[1:]
    if len(subject.split()) > 4:  # a clause, not a name: keep it beside the question
        return f"{q.rstrip('?')} ({subject})?"
    # the pronoun the subject replaces, not a determiner ("that day"); a possessive only where there is no such pronoun:
    # in "how many soldiers lost their lives during it?" the lives are the soldiers'
    dets = determiners(q)
    pronoun = next((m for m in SUBJECT_PRONOUN.finditer(q) if m.start() not in dets), None)
    if pronoun:
        return q[:pronoun.start()] + subject + q[pronoun.end():]
    replaced, n = POSSESSIVE_PRONOUN.subn(f"{subject}'s", q, count=1)
    if n:
        return replaced
    return f"{q.rstrip('?')} ({subject})?"
