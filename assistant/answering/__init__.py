"""The whole question-to-Answer pipeline, as steps over frozen records:
validation (`validation.py`) -> context selection (`context.py`) -> drafting (`drafting.py`, or a chat
model from `llm/`) -> citations checked by the support test (`grounding.py`) -> the chat model's one-token
check (`verification.py`) -> the one calibrated gate (`signals.py`, `gate.py`) -> `Answer` (`answer.py`).
`pipeline.py` wires the steps into a LangChain Runnable and `build_assistant(settings)`."""
