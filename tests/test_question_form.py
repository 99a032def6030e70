"""The reading of open questions (answering/question_form.py) with the real MiniLM embedder: forms the rules never
listed are read as open, one-fact questions are not, the committed parameters are the fit on the dev labels, and
with an embedder they were not fitted for (a test's stand-in) the rules decide alone."""

import json
import math

import pytest

from assistant.answering import question_form as forms
from assistant.errors import ConfigError
from assistant.language import is_open
from fakes import HashEmbedder

pytestmark = pytest.mark.slow

# written for this test, in forms the rules do not list; none is in evals/forms/questions.jsonl
OPEN = ["walk me through what the engineers did after the flood",
        "what went wrong with the handover to the civilian authorities?",
        "Give me an overview of how the Dutch army supported the vaccination campaign.",
        "pros and cons of putting soldiers in hospitals during an epidemic",
        "What part did local mayors play in the evacuation?"]
ONE_FACT = ["how many soldiers did the Netherlands send to the vaccination centres?",
            "When did the evacuation of Kherson begin?",
            "who commanded the engineer battalion?",
            "What does CMI stand for?",
            "Is the Territorial Defence Force part of the Polish Armed Forces?"]


def test_forms_the_rules_miss_are_read_as_open_and_one_fact_questions_are_not(embedder):
    form = forms.QuestionForm(embedder)
    assert form.fitted
    assert sum(is_open(q) for q in OPEN) <= 1  # the rules miss them
    assert [q for q in OPEN if not form.is_open(q)] == []
    assert [q for q in ONE_FACT if form.is_open(q)] == []


def test_names_and_numbers_are_masked_so_that_the_form_is_read_not_the_subject():
    assert forms.masked("What did the UK do for the NHS in 2020?") == "What did the X do for the X in X?"


def test_the_committed_parameters_are_the_fit_on_the_dev_labels(embedder):
    """`cimic forms` refits them; after new labels or a change of the features, they are fitted again (never on
    the test split). Compared by direction and by reading, not weight by weight: the int8 MiniLM embeds a little
    differently by CPU (onnxruntime's VNNI/AMX kernels against AVX2), and on a Xeon with AMX the same file's refit
    was 0.36 away in one weight, at cosine 0.995, reading 567 of the 569 labelled questions alike."""
    rows = forms.read_questions()
    assert {r["split"] for r in rows} == {"dev", "test"}
    committed = json.loads(forms.FITTED.read_text(encoding="utf-8"))
    params = forms.fit(embedder, [r for r in rows if r["split"] == "dev"])
    assert committed["rows"] == params["rows"] and committed["C"] == forms.C and committed["rules"] == forms.RULES
    a, b = committed["coef"], params["coef"]
    assert len(a) == len(b)
    assert sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)) > 0.98
    assert abs(committed["intercept"] - params["intercept"]) < 0.25
    questions = [r["question"] for r in rows]
    fitted, refit = forms.QuestionForm(embedder, params=committed), forms.QuestionForm(embedder, params=params)
    alike = sum(fitted.is_open(q) == refit.is_open(q) for q in questions)
    assert alike >= 0.99 * len(questions), (alike, len(questions))


def test_with_an_embedder_it_was_not_fitted_for_the_rules_decide_alone():
    form = forms.QuestionForm(HashEmbedder())
    assert not form.fitted
    assert [form.is_open(q) for q in OPEN + ONE_FACT] == [is_open(q) for q in OPEN + ONE_FACT]


def test_unreadable_parameters_are_a_clear_error(tmp_path):
    bad = tmp_path / "question_form.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cimic forms"):
        forms.QuestionForm(HashEmbedder(), bad)
