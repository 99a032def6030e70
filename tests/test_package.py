"""The package installs and runs outside the repository: the wheel is built, installed into a fresh
virtual environment (its dependencies taken from the project's .venv, nothing downloaded beyond the
build requirements from the registry), every dependency it declares is present there, and `cimic --help`,
`cimic ingest` and `cimic ask --backend extractive` work from another directory against a small
knowledge folder the test writes."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

DOC = """# Harbour liaison

The harbour liaison cell was set up in 2019 to coordinate ship movements with the port authority.
It meets the harbour master every Tuesday and keeps a register of civilian vessels in the port.
"""


CHECK_REQUIREMENTS = """
import importlib.metadata as m, re
missing = []
for req in m.requires("cimic-assistant"):
    name = re.split(r"[ ;<>=!~\\[]", req)[0]
    try:
        m.version(name)
    except m.PackageNotFoundError:
        missing.append(name)
print(missing)
"""


def run(cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    return done.stdout


def test_wheel_installs_and_answers_from_another_directory(tmp_path):
    src = tmp_path / "src"  # built from a copy: nothing is written into the checkout
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "assistant", src / "assistant", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)])
    wheel = next(dist.glob("cimic_assistant-*.whl"))
    fresh = tmp_path / "fresh"
    run([sys.executable, "-m", "venv", str(fresh)])
    fresh_py = fresh / "bin" / "python"
    fresh_site = Path(run([str(fresh_py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    # the dependencies come from the project's venv (already downloaded), not from a new download
    (fresh_site / "reuse-project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(fresh_py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])

    missing = run([str(fresh_py), "-c", CHECK_REQUIREMENTS], cwd=tmp_path)  # not the checkout's egg-info
    assert missing.strip() == "[]", missing

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "knowledge").mkdir(parents=True)
    (elsewhere / "knowledge" / "harbour.md").write_text(DOC, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMIC_")}
    env.update(CIMIC_KNOWLEDGE_DIR=str(elsewhere / "knowledge"), CIMIC_STORE_DIR=str(elsewhere / "index"),
               HF_HUB_OFFLINE="1")
    cimic = str(fresh / "bin" / "cimic")
    assert "ingest" in run([cimic, "--help"], cwd=elsewhere, env=env)
    run([cimic, "ingest"], cwd=elsewhere, env=env)
    answer = json.loads(run([cimic, "ask", "--json", "--backend", "extractive", "When was the harbour liaison cell set up?"],
                            cwd=elsewhere, env=env))
    assert not answer["refused"] and "2019" in answer["answer"] and answer["citations"]
    assert answer["citations"][0]["doc_id"]
    installed = run([str(fresh_py), "-c", "import assistant, sys; print(assistant.__file__)"], cwd=elsewhere, env=env)
    assert str(fresh) in installed  # the installed copy ran, not the checkout
