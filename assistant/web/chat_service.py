"""The one chat service behind the API and the page: whose conversation a request reads and writes, the
history a question is asked with, and saving each answered turn.

`ChatService(assistant, conversations)`: `owner(user_name, client_id)` names the owner (the login name, or
the browser's or client's id; `owner_of`), `ask`/`stream` answer a question with the request's history or
the saved conversation's and save the turn for its owner, and the conversation methods (`list`, `get`,
`markdown`, `rename`, `delete`) always name their owner. Every text that reaches the pipeline or the store
is checked first (`userdata.fields`: no unpaired surrogate, no NUL byte). Leaves out: HTTP and Gradio (the
routes and the tabs translate errors), and answering itself (`answering.pipeline`).
"""

from __future__ import annotations

from typing import Iterator

from assistant.errors import InvalidQuestion
from assistant.userdata.conversations import markdown, owner_of
from assistant.userdata.fields import check_fields, check_text

NO_OWNER = ("conversations are kept per user: sign in, or send an X-CIMIC-Client header (8 to 64 letters, digits, "
            "- or _) that names this browser or client")


class ChatService:
    def __init__(self, assistant, conversations=None):
        self.assistant = assistant
        self.conversations = conversations

    # ---- who ------------------------------------------------------------------------------------
    def owner(self, user_name: str | None, client_id: str | None, needed: bool = False) -> str | None:
        """The owner of what a request reads and writes: the login name, else the client's id, else None
        (an anonymous caller without an id has nothing saved; `needed` makes that an error)."""
        found = owner_of(user_name or "", client_id)
        if found is None and needed:
            raise InvalidQuestion(NO_OWNER)
        return found

    # ---- asking ---------------------------------------------------------------------------------
    def pick(self, backend: str | None):
        """A request may ask for the server's own back-end or the extractive one, nothing heavier: loading
        a model is the administrator's decision, not a caller's."""
        if backend and backend not in (self.assistant.backend, "extractive"):
            raise InvalidQuestion(f"this server answers with the {self.assistant.backend} back-end; a request may ask "
                                  f"for it or for extractive, not {backend!r}")
        return self.assistant.for_backend(backend)

    def history(self, who: str | None, conversation_id: str | None, given) -> list:
        """The history a question is asked with: the request's own, or else the saved conversation's turns."""
        history = [list(t) for t in given or []]
        if conversation_id and not history and self.conversations is not None:
            history = self.conversations.history(who, conversation_id)
        return history

    def stream(self, question: str, given_history=None, who: str | None = None, conversation_id: str | None = None,
               backend: str | None = None) -> Iterator[dict]:
        """{"type": "token", "text"} while the answer is written, then {"type": "answer", "answer": the Answer
        as a dict, "conversation_id": where the turn was saved, or None when nothing is saved}. Bad input
        raises (an AssistantError) at the first step, before any event."""
        check_fields({"question": question, "history": given_history or [], "conversation_id": conversation_id})
        chosen = self.pick(backend)
        history = self.history(who, conversation_id, given_history)
        for event in chosen.ask_stream(question, history):
            if event["type"] == "answer":
                answer = event["answer"].to_dict()
                yield {"type": "answer", "answer": answer,
                       "conversation_id": self.save(who, conversation_id, question, answer)}
            else:
                yield event

    def ask(self, question: str, given_history=None, who: str | None = None, conversation_id: str | None = None,
            backend: str | None = None) -> tuple[dict, str | None]:
        """The answer (a dict) and the conversation it was saved in (None when nothing is saved)."""
        for event in self.stream(question, given_history, who, conversation_id, backend):
            if event["type"] == "answer":
                return event["answer"], event["conversation_id"]
        raise RuntimeError("the pipeline ended without an answer")  # pragma: no cover - ask_stream always ends with one

    def save(self, who: str | None, conversation_id: str | None, question: str, answer: dict) -> str | None:
        """Save a turn for its owner; the conversation's id (a new one when `conversation_id` is None), or None
        when there is no owner or no store."""
        if who is None or self.conversations is None:
            return None
        return self.conversations.add_turn(who, conversation_id, question, answer)

    # ---- a user's conversations -------------------------------------------------------------------
    def list(self, who: str | None) -> list[dict]:
        return self.conversations.list(who) if who and self.conversations is not None else []

    def get(self, who: str, conversation_id: str) -> dict:
        check_text("conversation_id", conversation_id)
        return self.conversations.get(who, conversation_id)

    def markdown(self, who: str, conversation_id: str) -> str:
        return markdown(self.get(who, conversation_id))

    def rename(self, who: str, conversation_id: str, title: str) -> None:
        check_fields({"title": title, "conversation_id": conversation_id})
        self.conversations.rename(who, conversation_id, title)

    def delete(self, who: str, conversation_id: str) -> None:
        check_text("conversation_id", conversation_id)
        self.conversations.delete(who, conversation_id)
