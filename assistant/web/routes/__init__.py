"""The REST API's routers, one small module per area: ask (and its stream), conversations, practice,
documents, evaluations, feedback, health, glossary, and the site's own pages (/docs, redirects, unknown
/api/ paths). `web/api.py` assembles them; `common.py` holds what they share (the services a route reaches
through `request.app.state.services`, the signed-in user, the owner of a conversation)."""
