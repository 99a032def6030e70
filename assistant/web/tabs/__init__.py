"""The Gradio page's tabs, one builder each: the chat (also the embed view), practice, glossary, and the
instructors' review, evaluation and documents tabs. `web/page.py` assembles them; `common.py` holds what
they share (`Page`: the services, who is asking, the instructor guard). Imported by `build_ui` only."""
