"""Chat-model back-ends: the embedded local model, an OpenAI-compatible server, and extractive (no LLM)."""
