"""The web edge: the server (page + API on one port), API routers, the Gradio page and embed view, login,
and the views that turn records into HTML. Only here (and in the CLI) do errors become messages."""
