"""Evaluations started over the API against the real app (real index, real embedder, extractive back-end):
instructors only, one at a time, bad input refused with its reason, the run followed to its report, two
runs compared; runs made with `cimic eval` are listed beside them."""

import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, basic, cimic_server, indexed_env

pytestmark = pytest.mark.slow

TRAINEE, INSTRUCTOR = basic("trainee", "t-pass"), basic("instructor", "i-pass")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evals-api")
    env = indexed_env(tmp, CIMIC_AUTH="trainee:t-pass,instructor:i-pass", CIMIC_INSTRUCTORS="instructor",
                      CIMIC_EVAL_REPORTS_DIR=str(tmp / "reports"))
    url, service = cimic_server(env)
    with service:
        yield {"url": url, "env": env, "reports": tmp / "reports"}


def wait_done(url: str, run_id: str, limit_s: float = 600) -> dict:
    """Poll a run until it is no longer running (the limit only stops a hung run from hanging the suite)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        run = httpx.get(f"{url}/api/evals/{run_id}", headers=INSTRUCTOR, timeout=30).json()
        if run["status"] != "running":
            return run
        time.sleep(1)
    raise AssertionError(f"evaluation {run_id} still running after {limit_s} s")


def test_trainees_may_not_run_or_read_evaluations(site):
    r = httpx.post(f"{site['url']}/api/evals", json={"backend": "extractive", "sample": 5}, headers=TRAINEE)
    assert r.status_code == 403 and "instructor login" in r.json()["error"]
    assert httpx.get(f"{site['url']}/api/evals", headers=TRAINEE).status_code == 403
    assert httpx.get(f"{site['url']}/api/evals/x", headers=TRAINEE).status_code == 403


@pytest.mark.parametrize("body,needle", [
    ({"backend": "extractive", "datasets": ["nope"]}, "unknown dataset 'nope'"),
    ({"backend": "local"}, "not 'local'"),
    ({"backend": "extractive", "sample": 0}, "sample size"),
    ({"backend": "extractive", "sample": "many"}, "sample"),
    ({}, "backend"),
])
def test_bad_starts_are_refused_with_the_reason(site, body, needle):
    r = httpx.post(f"{site['url']}/api/evals", json=body, headers=INSTRUCTOR)
    assert r.status_code == 422 and needle in r.json()["error"], r.text


def test_run_one_at_a_time_follow_it_and_compare(site):
    url = site["url"]
    first = httpx.post(f"{url}/api/evals", json={"backend": "extractive", "sample": 20}, headers=INSTRUCTOR)
    assert first.status_code == 202
    run_id = first.json()["id"]
    # the run calibrates its judge and answers 20 questions: a second start arrives while it runs
    busy = httpx.post(f"{url}/api/evals", json={"backend": "extractive", "sample": 5}, headers=INSTRUCTOR)
    assert busy.status_code == 409 and "running already" in busy.json()["error"]
    ask = httpx.post(f"{url}/api/ask", json={"question": "What is CMI?"}, headers=TRAINEE, timeout=60)
    assert ask.status_code == 200 and not ask.json()["refused"]  # the server keeps answering meanwhile
    run = wait_done(url, run_id)
    assert run["status"] == "done", run
    assert run["by"] == "instructor" and run["datasets"] == ["gold"] and run["cases"] >= 5
    assert {"judge_groundedness", "fact_recall"} <= set(run["headline"])
    assert run["judge"]["balanced_accuracy"] and run["summary"]["draft_groundedness"]["n"] > 0
    page = httpx.get(f"{url}/api/evals/{run_id}/report", headers=INSTRUCTOR)
    assert page.status_code == 200 and "How far can the assistant be trusted?" in page.text

    second = httpx.post(f"{url}/api/evals", json={"backend": "extractive", "sample": 5}, headers=INSTRUCTOR).json()["id"]
    assert wait_done(url, second)["status"] == "done"
    listed = httpx.get(f"{url}/api/evals", headers=INSTRUCTOR).json()
    assert [r["id"] for r in listed["runs"]][:2] == [second, run_id] and listed["running"] is None
    assert "gold" in listed["datasets"] and listed["backends"] == ["extractive"]
    diff = httpx.get(f"{url}/api/evals/{second}/compare/{run_id}", headers=INSTRUCTOR).json()
    assert set(diff["deltas"]) >= {"fact_recall", "judge_groundedness"} and isinstance(diff["changed"], list)
    assert httpx.get(f"{url}/api/evals/nope", headers=INSTRUCTOR).status_code == 404
    assert httpx.get(f"{url}/api/evals/..%2F..%2Fetc/report", headers=INSTRUCTOR).status_code == 404


def test_command_line_runs_are_listed(site):
    out = site["reports"] / "from-cli"
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "eval", "--quiet", "--backend", "extractive",
                           "--sample", "5", "--out", str(out), "--gates", ""], cwd=ROOT, env=site["env"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = httpx.get(f"{site['url']}/api/evals", headers=INSTRUCTOR).json()["runs"]
    cli = next(r for r in runs if r["id"] == "from-cli")
    assert cli["by"] == "command line" and cli["status"] == "done" and cli["headline"]["fact_recall"] is not None
