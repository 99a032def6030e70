"""What the API's routers and the page's tabs answer from: the assistant and the services the server builds once
(glossary, feedback, login, the chat service, evaluations, documents, the tutor). Leaves out: building them
(`server.py`) and how each edge reaches them (`routes/common.py`, `tabs/common.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Services:
    assistant: Any
    glossary: list
    feedback: Any
    auth: Any
    chat: Any  # web.chat_service.ChatService
    settings: Any = None
    evals: Any = None
    library: Any = None
    tutor: Any = None
