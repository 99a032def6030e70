"""The evaluation gates CI holds the assistant to: `cimic eval` on the extractive back-end over the whole
gold set and on the local model over a sample, each against `evals/gates.yaml`; and the calibration
of the support threshold on the hand labels."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, indexed_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return indexed_env(tmp_path_factory.mktemp("eval"))


def run_eval(env, out, *args):
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "eval", "--quiet", "--out", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    print(done.stdout)
    return done


@pytest.mark.parametrize("backend,extra", [("extractive", []), ("local", ["--sample", "12"])])
def test_gates(env, tmp_path, backend, extra):
    done = run_eval(env, tmp_path, "--backend", backend, *extra)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert report["meta"]["backend"] == backend and not report["gates"]["missed"] and report["gates"]["thresholds"]
    assert "data:image/png;base64," in html and "http://" not in html.replace("http://www.w3.org", "")
    if backend == "extractive":
        assert report["meta"]["cases"] >= 80 and report["splits"]["test"]["cases"]["total"] >= 30
        assert report["gates"]["split"] == "test" and report["answer_gate"]["ablation"]["all"]


def test_compare_and_bad_dataset(env, tmp_path):
    first = run_eval(env, tmp_path / "a", "--backend", "extractive", "--sample", "8")
    assert first.returncode == 0
    again = run_eval(env, tmp_path / "b", "--backend", "extractive", "--sample", "8", "--compare", str(tmp_path / "a" / "report.json"))
    report = json.loads((tmp_path / "b" / "report.json").read_text(encoding="utf-8"))
    assert again.returncode == 0 and report["comparison"]["deltas"]["hit"] == 0.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q", "answerable": true}\n', encoding="utf-8")
    done = run_eval(env, tmp_path / "c", "--dataset", str(bad))
    assert done.returncode == 2 and "needs at least one gold passage" in done.stderr and "Traceback" not in done.stderr


def test_several_datasets_each_against_its_own_documents(env, tmp_path):
    mini = tmp_path / "mini"
    (mini / "docs").mkdir(parents=True)
    (mini / "docs" / "drill.md").write_text("# Harbour drill\n\nThe Zyxwv harbour drill of 2024 brought 340 volunteers "
                                            "from the port authority together with the coast guard.\n", encoding="utf-8")
    cases = [{"id": "m1", "question": "How many volunteers took part in the Zyxwv harbour drill?", "answerable": True,
              "gold": ["brought 340 volunteers"], "facts": [["340"]], "split": "test"},
             {"id": "m2", "question": "Who won the 2022 FIFA World Cup?", "answerable": False, "split": "test"}]
    (mini / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    done = run_eval(env, tmp_path / "out", "--backend", "extractive", "--gates", "", "--sample", "6",
                    "--dataset", str(ROOT / "evals" / "datasets" / "gold.jsonl"), str(mini / "cases.jsonl"))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert set(report["by_dataset"]) == {"gold", "mini"} and report["meta"]["knowledge"]["mini"] == str(mini / "docs")
    rows = {(r["dataset"], r["id"]): r for r in report["cases"]}
    assert rows[("mini", "m1")]["passed"] and "340" in rows[("mini", "m1")]["answer"]
    assert "retrieval_ms" in rows[("mini", "m1")]["timings"]  # where each answer's time went, step by step
    assert rows[("mini", "m2")]["refused"]
    assert report["splits"]["test"]["cases"]["total"] >= 2 and report["by_dataset"]["mini"]["cases"]["total"] == 2
    assert "dataset mini (2 cases)" in done.stdout


def test_support_threshold_is_calibrated_on_the_labels():
    from assistant.evaluation.runner import calibrate
    from assistant.answering.grounding import DEFAULT_THRESHOLD

    cal = calibrate(ROOT / "evals" / "labels")
    assert cal["labels"] >= 60 and 0 < cal["supported"] < cal["labels"]
    assert cal["threshold_in_use"] == DEFAULT_THRESHOLD
    assert cal["balanced_accuracy_in_use"] >= cal["best_balanced_accuracy"] - 0.02  # the threshold in use is (near) the best
    assert cal["cohen_kappa_in_use"] >= 0.6


def test_a_sample_of_n_holds_at_most_n_cases_every_kind_while_n_allows():
    from assistant.evaluation.runner import Case, load_dataset, sample

    gold = load_dataset(ROOT / "evals" / "datasets" / "gold.jsonl")
    kinds = {c.kind for c in gold}
    for n in (1, 2, len(kinds) - 1, len(kinds), 8, 12, 30):
        picked = sample(gold, n)
        assert len(picked) == min(n, len(gold)), (n, len(picked))
        assert len({c.kind for c in picked}) == min(n, len(kinds)), n
        assert picked == sample(gold, n)  # deterministic
    mixed = [Case(f"c{i}", "q", True, ["g"], [], [], kind) for i, kind in enumerate("a" * 20 + "b" * 3 + "c" + "d")]
    assert len(sample(mixed, 3)) == 3 and len({c.kind for c in sample(mixed, 4)}) == 4
