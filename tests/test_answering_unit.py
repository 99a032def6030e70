"""The chain at its seams: scripted chat model, hash embedder, a real embedded Chroma built by ingest."""

import pytest

from assistant.chain import build_assistant
from assistant.errors import InvalidQuestion
from assistant.grounding import LexicalSupportScorer
from assistant.ingest.indexer import ingest
from assistant.prompts import messages, prompt_names, render
from assistant.retrieval.condense import deterministic_rewrite, needs_context, subject_of
from fakes import HashEmbedder


class ScriptedModel:
    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)
        self.seen = []

    def stream(self, msgs, max_tokens):
        self.seen.append(msgs)
        reply = self.replies.pop(0) if self.replies else "NOT_IN_SOURCES"
        yield from reply.split(" ")[:1]
        rest = reply[len(reply.split(" ")[0]):]
        if rest:
            yield rest


@pytest.fixture
def built(knowledge, make_settings):
    settings = make_settings(min_relevance=0.0)
    emb = HashEmbedder()
    ingest(settings, emb)
    return settings, emb


def test_every_prompt_renders_with_strict_variables():
    assert set(prompt_names()) >= {"answer", "condense", "refusal"}
    m = messages("answer", question="Q?", passages=[{"n": 1, "text": "P."}])
    assert "[1] P." in m[1]["content"]
    assert messages("condense", history=[["a", None]], question="b?")
    assert render("refusal", "text", topics=["x"])
    from assistant.errors import ConfigError
    with pytest.raises(ConfigError):
        render("answer", "user", question="Q?")  # passages missing


def test_deterministic_follow_up_rewrite():
    hist = [("What was Operation Rescript?", "It was ...")]
    assert needs_context("Under which procedure was it carried out?", hist)
    assert not needs_context("What is CIMIC?", [])
    assert subject_of("What was Operation Rescript?") == "Operation Rescript"
    assert deterministic_rewrite("Under which procedure was it carried out?", hist) == \
        "Under which procedure was Operation Rescript carried out?"
    assert "Operation Rescript" in deterministic_rewrite("and how many soldiers did it deploy?", hist)


def test_uncited_and_unsupported_sentences_are_fixed_or_dropped(built):
    settings, emb = built
    model = ScriptedModel(["Operation Rescript was launched in March 2020. It won the 2022 FIFA World Cup [1]. Cited to nowhere [9]."])
    a = build_assistant(settings, embedder=emb, chat_model=model)
    ans = a.ask("When was Operation Rescript launched by the United Kingdom?")
    assert not ans.refused
    assert "March 2020" in ans.answer and "FIFA" not in ans.answer
    assert any("FIFA" in u for u in ans.unsupported)
    assert ans.citations and all(f"[{c.n}]" in ans.answer for c in ans.citations)
    assert all(c.chunk_id in ans.retrieved for c in ans.citations)
    scorer = LexicalSupportScorer()
    for c in ans.citations:
        assert scorer.score("Operation Rescript was launched in March 2020", c.text).supported


def test_a_sentence_that_states_what_the_question_asks_without_its_source_saying_it_is_dropped(built):
    settings, emb = built
    said = ("The commander of Operation Rescript was the Military Aid to the Civil Authorities (MACA) procedure, which "
            "enables the armed forces to support civilian authorities in crisis situations.")  # the local model, once
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel([said + " [1]"]))
    ans = a.ask("Who was the commander of Operation Rescript?")
    assert ans.refused and ans.unsupported == [said]
    # the same sentence without the word the question asks about is grounded
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel([said.replace("The commander of ", "") + " [1]"]))
    assert not a.ask("Who was the commander of Operation Rescript?").refused


def test_model_refusal_becomes_the_fixed_refusal(built):
    settings, emb = built
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["NOT_IN_SOURCES"]))
    ans = a.ask("Who won the 2022 FIFA World Cup?")
    assert ans.refused and ans.citations == [] and "do not cover" in ans.answer


def test_dead_backend_falls_back_to_extractive_with_a_notice(built):
    from assistant.errors import BackendUnavailable

    class Dead:
        name = "dead"

        def stream(self, msgs, max_tokens):
            raise BackendUnavailable("the chat server at http://127.0.0.1:9 does not answer")
            yield

    settings, emb = built
    ans = build_assistant(settings, embedder=emb, chat_model=Dead()).ask("How many soldiers did the COVID Support Force comprise?")
    assert ans.notice and "does not answer" in ans.notice
    assert not ans.refused and "23,000" in ans.answer and ans.backend == "extractive"


@pytest.mark.parametrize("question,needle", [
    ("", "empty"), ("   \n\t ", "empty"), ("x" * 20000, "20,000 characters"), ("\x00\x01\x02", "empty"),
    ("?!?", "no letters"), (42, "must be text"),
])
def test_bad_input_gets_a_clear_error(built, question, needle):
    settings, emb = built
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel([]))
    with pytest.raises(InvalidQuestion) as err:
        a.ask(question)
    assert needle in str(err.value)


def test_control_characters_are_cleaned_not_fatal(built):
    settings, emb = built
    settings.llm_backend = "extractive"
    ans = build_assistant(settings, embedder=emb).ask("What\u200b is\x07 Operation\u202e Rescript?")
    assert ans.question == "What is Operation Rescript?"
