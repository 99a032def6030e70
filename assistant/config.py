"""One Settings object, read from the environment (prefix CIMIC_) when the program starts.

Nothing reads settings at import time: `Settings()` is built by the CLI or `app.py` and passed
down explicitly. Paths are resolved against the project root unless given absolute: the source
checkout the package runs from, or, for an installed package, the directory it is started in.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

def _project_root() -> Path:
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "pyproject.toml").exists() and (checkout / "assistant").is_dir() else Path.cwd()


ROOT = _project_root()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIMIC_", extra="ignore")

    # knowledge and index
    knowledge_dir: Path = Field(ROOT / "knowledge", description="documents, sources.yaml and glossary.yaml")
    store_dir: Path = Field(ROOT / "var" / "index", description="embedded Chroma store (segments named by a committed manifest)")
    chroma_url: str | None = Field(None, description="http://host:port of a `chroma run` server; overrides store_dir")
    collection: str = Field("cimic", description="Chroma collection name")
    chunk_tokens: int = Field(200, ge=32, le=256, description="max word pieces per chunk (MiniLM reads 256)")
    max_file_mb: float = Field(20.0, gt=0, description="files larger than this are skipped with a message")
    # what a file may unpack to, checked before it is parsed (ingest/loaders.py `Limits`; the same defaults there)
    max_unpacked_mb: float = Field(100.0, gt=0, description="most a .docx (a zip) or a PDF's page streams may unpack to")
    max_part_mb: float = Field(25.0, gt=0, description="most one part of a .docx, or one PDF stream, may unpack to")
    max_compression_ratio: float = Field(100.0, gt=1, description="most a part over 1 MB may be compressed (unpacked "
                                         "size to packed size): beyond it, a zip bomb")
    max_pages: int = Field(2000, ge=1, description="most pages a PDF may have")
    max_chars: int = Field(3_000_000, ge=1000, description="most characters of text a file may hold")
    parse_timeout_s: float = Field(120.0, gt=0, description="an upload is read in a child process, stopped after this")

    # models
    embedder: Literal["onnx-int8", "torch"] = Field("onnx-int8", description="all-MiniLM-L6-v2 as int8 ONNX (faster) or on torch")
    embed_batch: int = Field(32, ge=1)
    model_dir: Path = Field(ROOT / "var" / "models", description="where the joined GGUF file is written")

    # answering
    llm_backend: Literal["local", "openai", "extractive"] = "local"
    llm_base_url: str | None = None
    llm_model: str = "local"
    llm_api_key: str | None = None
    llm_timeout_s: float = 60.0
    top_k: int = Field(4, ge=1, le=20)
    gate_file: Path = Field(Path(str(resources.files("assistant") / "answering" / "fitted" / "gate.json")),
                            description="the answer gate's fitted parameters (signals.jsonl, their data, beside them)")
    gate_off: str = Field("", description="comma-separated gate signals to switch off (the gate is refitted without them)")
    refusal_budget: float = Field(0.05, ge=0, le=0.5, description="ceiling: most of each source's answerable dev questions "
                                  "the gate may refuse when refitted")
    wrong_answer_cost: float = Field(3.0, gt=0, le=100, description="cost of a cited answer to a question the sources do not "
                                     "answer, against 1 for refusing an answerable one; sets the gate's operating point")
    max_answer_tokens: int = Field(160, ge=16, le=1024)
    max_summary_tokens: int = Field(60, ge=8, le=512, description="the most tokens of the chat model's lead after an "
                                    "open question's quoted points (it follows them, so it adds to the whole answer's time)")
    max_question_chars: int = Field(2000, ge=10)
    max_history_turns: int = Field(20, ge=0)
    practice_model_reading: bool = Field(True, description="with a chat model, it reads each practice answer beside "
                                         "the key points (practice/grader.py; about 1-2 s per grade on 2 cores)")

    # serving
    host: str = "127.0.0.1"
    port: int = 7860
    feedback_db: str = Field("sqlite:///" + str(ROOT / "var" / "feedback.db"), description="SQLAlchemy URL")
    allowed_origins: str = Field("", description="comma-separated origins that may embed the page and call the API")
    auth: str | None = Field(None, description="user:password pairs, comma-separated; turns the login on")
    auth_header: str | None = Field(None, description="trust this header's user name (set by a reverse proxy)")
    instructors: str = Field("", description="comma-separated users who may open the review and evaluation tabs")
    eval_datasets: str = Field("", description="comma-separated dataset files the Evaluation tab offers beside evals/datasets/")
    eval_reports_dir: Path = Field(ROOT / "evals" / "reports", description="where evaluation runs and their reports are kept")
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "var",
                           description="the server's own files (the feedback spool); relative to the working directory; "
                                       "never inside the installed package")
    allowed_hosts: str = Field("", description="comma-separated Host names the server answers to ('*': any); unset: any, "
                               "except on an anonymous server bound beyond localhost (localhost names only)")

    @field_validator("data_dir")
    @classmethod
    def _data_dir_outside_the_package(cls, value: Path) -> Path:
        value = value if value.is_absolute() else Path.cwd() / value
        package = Path(__file__).resolve().parent
        if value.resolve() == package or package in value.resolve().parents:
            from assistant.errors import ConfigError

            raise ConfigError(f"CIMIC_DATA_DIR {value} is inside the installed package ({package}); "
                              "point it at a writable folder of its own, e.g. var/ under the working directory")
        return value

    def gate_off_signals(self) -> set[str]:
        return {s.strip() for s in self.gate_off.split(",") if s.strip()}

    def resolved(self, p: Path) -> Path:
        return p if p.is_absolute() else (ROOT / p)
