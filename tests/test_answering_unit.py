"""The chain at its seams: scripted chat model, hash embedder, a real embedded Chroma built by ingest."""

import pytest

from assistant.answering.gate import Decision, OpenGate
from assistant.answering.pipeline import build_assistant as build_real
from assistant.errors import InvalidQuestion
from assistant.answering.grounding import LexicalSupportScorer
from assistant.ingest.indexer import ingest
from assistant.language import subject_of
from assistant.prompts import messages, prompt_names, render
from assistant.retrieval.condense import deterministic_rewrite, needs_context, standalone_question
from fakes import HashEmbedder, ScriptedModel


def build_assistant(settings, **parts):
    """The chain with the gate open: these tests are about drafting and the support check, not the gate
    (fitted on the real embedder's similarities, which the hash embedder does not give)."""
    parts.setdefault("gate", OpenGate())
    return build_real(settings, **parts)


@pytest.fixture
def built(knowledge, make_settings):
    settings = make_settings()
    emb = HashEmbedder()
    ingest(settings, emb)
    return settings, emb


def test_every_prompt_renders_with_strict_variables():
    assert set(prompt_names()) >= {"answer", "refusal"}
    m = messages("answer", question="Q?", passages=[{"n": 1, "text": "P."}])
    assert "[1] P." in m[1]["content"]
    assert render("refusal", "text", topics=["x"])
    assert render("refusal", "partial", asked="number", sentence="S [1]").startswith("The doctrine sources do not give that number")
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
    # what the check did is kept for the evaluation: three draft sentences, two dropped, one re-cited
    assert ans.check == {"draft_sentences": 3, "dropped": 2, "recited": 1, "fallback": None, "model_refusal": None}
    assert "FIFA" in ans.draft


@pytest.mark.parametrize("question, follows", [
    ("and how many soldiers did they send?", True),  # "and ..." continues the conversation
    ("how many soldiers did they send?", True),  # a pronoun with nothing of the question's own before it
    ("Why?", True),  # names nothing
    ("how many were deployed?", True),  # names nothing either: a verb and question words
    ("how many soldiers were involved?", True),  # a detail (a number) of no one named: the conversation's subject's
    ("how many soldiers did germany send?", False),  # a detail of someone it names
    ("what is civil-military cooperation", False),  # names no one, but asks for no detail: a new question
    ("is there a cimic doctrine", False),  # an existential "there" points back to nothing
    ("waht was operaton rescript and who ran it", False),  # "it" points at what the first clause names
    ("What was Operation Rescript, and how many soldiers did it deploy?", False),
    ("What is CIMIC?", False),
])
def test_a_pronoun_alone_does_not_make_a_follow_up(question, follows):
    assert needs_context(question, [("how did the army help in Poland during covid", None)]) is follows


def test_a_standalone_question_is_not_rewritten_and_a_follow_up_keeps_the_users_subject():
    rescript = [("What was Operation Rescript?", "Operation Rescript was launched by the United Kingdom. [1]")]
    assert standalone_question("What is CMI?", rescript) == "What is CMI?"
    assert standalone_question("what's the difference between CIMIC and CMI?", rescript).startswith("what's the difference")
    poland = [("how did the army help during covid in poland", "The United Kingdom launched Operation Rescript. [2]")]
    follow = standalone_question("and how many soldiers did they send?", poland)
    assert "poland" in follow and "Rescript" not in follow  # the user's subject, not the answer's
    chain = [("When was Operation Sentinelle launched?", "In January 2015. [1]"), ("Why was it launched?", "To prevent attacks. [1]")]
    assert "Operation Sentinelle" in standalone_question("And how many soldiers does it deploy?", chain)
    assert subject_of("How many soldiers did the COVID Support Force comprise?") == "COVID Support Force"
    detail = [("what did poland's armed forces do during the pandemic", "..."), ("how many soldiers were involved?", "...")]
    assert "poland" in standalone_question("who led them?", detail)  # the detail question leaned on Poland too
    uk = [("what did the uk armed forces do during covid", "Operation Rescript ... [1]")]
    assert "uk armed forces" in standalone_question("how many were deployed?", uk)
    nato = [("what does nato's policy on human trafficking say", "In 2004 ... [1]")]
    assert "nato's policy on human trafficking" in standalone_question("when was it adopted?", nato)
    # a conversation's first question stood on its own, whatever it asks: a date of no one named by name
    coe = [("when was the cimic centre of excellence founded", "The doctrine sources I answer from do not cover that.")]
    assert "cimic centre of excellence" in standalone_question("where is it located?", coe)
    # the subject takes a pronoun's place, not a determiner's ("that day"), nor a possessive that is another's ("their lives")
    guard = [("What did the Massachusetts National Guard do during the Boston Marathon bombing?", "...")]
    assert standalone_question("Who was their commanding officer that day?", guard) == \
        "Who was Massachusetts National Guard's commanding officer that day?"
    sentinelle = [("What is Operation Sentinelle?", "...")]
    assert standalone_question("how many soldiers lost their lives during it?", sentinelle) == \
        "How many soldiers lost their lives during Operation Sentinelle?"


def test_a_fragment_draft_becomes_the_source_sentence_that_holds_it(built):
    settings, emb = built
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["23,000 [1]"]))
    ans = a.ask("How many soldiers did the COVID Support Force comprise?")
    assert not ans.refused and "23,000 soldiers and reservists" in ans.answer and ans.answer.count("[") >= 1


def test_misspelt_question_words_are_corrected_against_the_sources(built):
    settings, emb = built
    settings.llm_backend = "extractive"
    ans = build_assistant(settings, embedder=emb).ask("what are the baseline requirments for civil preparednes?")
    assert ans.standalone_question == "what are the baseline requirements for civil preparedness?"


def test_model_refusal_is_a_signal_the_gate_decides_on(built):
    from assistant.answering.gate import Decision, Gate

    class RefuseWhenTheModelRefuses(Gate):
        def __init__(self):
            super().__init__({})
            self.seen = []

        def decide(self, kind, signals):
            self.seen.append(signals)
            return Decision(not signals.model_refused, 0.0, 0.5, signals.as_dict())

        def worth_drafting(self, kind, signals):
            return Decision(True, 1.0, 0.5, signals.as_dict())

    settings, emb = built
    gate = RefuseWhenTheModelRefuses()
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["NOT_IN_SOURCES"]), gate=gate)
    ans = a.ask("Who won the 2022 FIFA World Cup?")
    assert ans.refused and ans.citations == [] and "do not cover" in ans.answer
    assert gate.seen[-1].model_refused == 1.0 and gate.seen[-1].draft_support == 0.0
    assert ans.gate["signals"]["model_refused"] == 1.0 and ans.draft == "NOT_IN_SOURCES"
    assert ans.check["fallback"] == "refusal"


class _Gate:
    """Answers when told to; drafting always allowed."""

    def __init__(self, answer):
        self.answer = answer

    def decide(self, kind, signals):
        return Decision(self.answer, 0.9 if self.answer else 0.1, 0.5, signals.as_dict())

    def worth_drafting(self, kind, signals):
        return Decision(True, 1.0, 0.5, signals.as_dict())


def test_the_models_refusal_stands_or_is_overridden_by_the_gate_and_the_check_says_which(built):
    settings, emb = built
    question = "How many soldiers did the COVID Support Force comprise?"
    stood = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["NOT_IN_SOURCES"]), gate=_Gate(False)).ask(question)
    assert stood.refused and stood.check["model_refusal"] == "stood"
    overridden = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["NOT_IN_SOURCES"]), gate=_Gate(True)).ask(question)
    assert not overridden.refused and overridden.check["model_refusal"] == "overridden" and "23,000" in overridden.answer
    answered = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["It comprised 23,000 soldiers [1]."]),
                               gate=_Gate(True)).ask(question)
    assert answered.check["model_refusal"] is None


def test_a_refusal_quotes_what_the_sources_say_of_its_subject_and_nothing_of_an_unknown_one(built):
    settings, emb = built
    a = build_assistant(settings, embedder=emb, gate=_Gate(False))
    partial = a.ask("How many vehicles did the COVID Support Force use?")
    assert partial.refused and partial.partial and partial.partial.endswith("[1]")
    assert partial.answer.startswith("The doctrine sources do not give that number")
    assert len(partial.citations) == 1 and "COVID Support Force" in partial.citations[0].text
    unknown = a.ask("How many vehicles did Operation Zephyr in Atlantis use?")
    assert unknown.refused and unknown.partial is None and unknown.citations == []


def test_a_refusal_does_not_say_the_sources_lack_a_number_its_own_quote_gives(built):
    """The gate may doubt that a quote answers this question; it is never said to lack what it holds."""
    settings, emb = built
    partial = build_assistant(settings, embedder=emb, gate=_Gate(False)).ask(
        "How many soldiers did the COVID Support Force comprise?")
    assert partial.refused and "23,000" in partial.partial
    assert partial.answer.startswith("The doctrine sources do not give an answer to exactly that")


def test_a_refusal_quotes_the_sentence_of_its_passages_that_gives_the_number_asked_never_saying_it_lacks_it(built):
    """The closest sentence holds no number ("France undertook extensive measures ..."), but its passage says "support
    from 46 countries was requested": that sentence is quoted, and the sources are not said to lack the number."""
    settings, emb = built
    partial = build_assistant(settings, embedder=emb, gate=_Gate(False)).ask(
        "How many countries did France ask for help for the Olympic Games?")
    assert partial.refused and "46 countries" in partial.partial
    assert partial.answer.startswith("The doctrine sources do not give an answer to exactly that")


def test_dead_backend_falls_back_to_extractive_with_a_notice(built):
    from assistant.errors import BackendUnavailable

    class Dead:
        name = "dead"

        def stream(self, msgs, max_tokens, first_token=None):
            raise BackendUnavailable("the chat server at http://127.0.0.1:9 does not answer")
            yield

    settings, emb = built
    ans = build_assistant(settings, embedder=emb, chat_model=Dead()).ask("How many soldiers did the COVID Support Force comprise?")
    assert ans.notice and "does not answer" in ans.notice
    assert not ans.refused and "23,000" in ans.answer and ans.backend == "extractive"


def test_the_models_check_reads_yes_against_no_and_never_asks_about_nothing():
    from assistant.answering.verification import confirmation

    class Probabilities:
        name = "probabilities"

        def __init__(self, first, reply):
            self.first, self.reply, self.seen = first, reply, []

        def stream(self, msgs, max_tokens, first_token=None):
            self.seen.append((msgs, max_tokens))
            if first_token is not None:
                first_token.update(self.first)
            yield self.reply

    model = Probabilities({"yes": 0.5, " Yes": 0.1, "no": 0.2, "The": 0.2}, "yes")
    quoted = "Operation Rescript was launched in March 2020. [1] It was the largest peacetime operation. [2]"
    assert confirmation(model, "When was Operation Rescript launched?", quoted) == pytest.approx(0.75)
    msgs, max_tokens = model.seen[0]
    assert max_tokens == 1 and "launched in March 2020. It was" in msgs[1]["content"] and "[1]" not in msgs[1]["content"]
    assert confirmation(Probabilities({}, "No."), "q?", quoted) == 0.0  # no probabilities reported: its word
    assert confirmation(Probabilities({}, "Yes"), "q?", quoted) == 1.0
    silent = Probabilities({"yes": 1.0}, "yes")
    assert confirmation(silent, "q?", None) == 0.0 and not silent.seen  # nothing quoted: nothing to confirm


def test_the_gate_reads_the_models_check_after_the_draft(built):
    settings, emb = built
    a = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["It comprised 23,000 soldiers [1].", "No"]))
    ans = a.ask("How many soldiers did the COVID Support Force comprise?")
    assert ans.gate["signals"]["model_confirms"] == 0.0 and "verify_ms" in ans.timings


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


def test_a_refresh_after_an_ingest_equals_a_fresh_start(built, knowledge):
    """The retriever updates what it derived from the chunks by what changed; the result must be what a
    retriever that read everything anew derives."""
    settings, emb = built
    a = build_assistant(settings, embedder=emb)
    (knowledge / "note.md").write_text("# Zyxwv harbour note\n\nThe Zyxwv harbour cell meets on Tuesdays.\n", encoding="utf-8")
    gone = sorted(knowledge.glob("*.txt"))[0]
    gone.unlink()
    ingest(settings, emb)
    a.retriever.refresh_if_changed()
    fresh = build_assistant(settings, embedder=emb).retriever
    r = a.retriever
    assert set(r.chunks) == set(fresh.chunks) and r.vocabulary == fresh.vocabulary
    assert r._df == fresh._df and r._surface == fresh._surface and r._doc_names == fresh._doc_names
    assert r._record_words == fresh._record_words and sorted(r._terms) == sorted(fresh._terms)
    assert any("Tuesdays" in p.chunk.text for p in r.retrieve("When does the Zyxwv harbour cell meet?", 4).passages)


def test_a_refusal_names_only_real_topics_never_an_abstract_in_another_language_or_a_file_name(built):
    from dataclasses import replace

    from assistant.answering.pipeline import Checked
    from assistant.documents import Chunk
    from assistant.retrieval.hybrid import Retrieved

    settings, emb = built
    a = build_assistant(settings, embedder=emb, gate=_Gate(False))
    polish = ("W artykule przedstawiono współpracę cywilno-wojskową podczas zdarzeń masowych, "
              "jej formy oraz znaczenie dla systemu ochrony zdrowia i bezpieczeństwa państwa w sytuacjach kryzysowych.")
    english = "The force supported the civil authorities with transport, logistics and field hospitals during the crisis."
    paper = "Civil-military cooperation during mass casualty events"

    def passage(title, section, text, path="knowledge/paper.txt"):
        c = Chunk(doc_id=title.lower(), title=title, section=section, text=text, start=0, end=len(text), path=path)
        return Retrieved(c.id, c, 0.5, 0.5)

    prep = a._prepare("How many vehicles did Operation Zephyr in Atlantis use?", [])
    prep = replace(prep, retrieval=replace(prep.retrieval, passages=[
        passage(paper, "Streszczenie", polish),
        passage("upload_test.docx", "", english, "knowledge/upload_test.docx"),
        passage("hostile notes", "", english, "knowledge/hostile_notes.md"),
        passage("hostile-notes", "Logistics", english, "knowledge/hostile-notes.md"),
        passage("Ukrainian Experience in Civil-Military Cooperation", "Keywords", "civil-military cooperation; Ukraine; resilience"),
        passage("Humanitarian Policy Making", "Lessons > Coordination with armed forces", english),
        passage("Allied Joint Doctrine", "Doctrine > AJP-3.19", english),
    ]))
    topics = a._refusal(prep, Decision(False, 0.1, 0.5, {}), None, Checked((), ()), "refusal").answer
    assert topics == ("The doctrine sources I answer from do not cover that. They do cover, for example: "
                      f"{paper}; Logistics; Ukrainian Experience in Civil-Military Cooperation."), topics
    more = a._refusal(replace(prep, retrieval=replace(prep.retrieval, passages=prep.retrieval.passages[4:])),
                      Decision(False, 0.1, 0.5, {}), None, Checked((), ()), "refusal").answer
    assert "Ukrainian Experience in Civil-Military Cooperation; Coordination with armed forces; AJP-3.19." in more, more
    parts = a._refusal(replace(prep, retrieval=replace(prep.retrieval, passages=[
        passage(paper, "Introduction", english), passage("Allied Joint Doctrine", "Doctrine > Conclusions", english)])),
        Decision(False, 0.1, 0.5, {}), None, Checked((), ()), "refusal").answer
    assert f"{paper}; Allied Joint Doctrine." in parts, parts  # "Introduction" names no topic: the paper's title does


def test_an_open_questions_points_stream_first_and_the_models_lead_follows_checked_like_any_draft(built):
    settings, emb = built
    question = "What did the COVID Support Force do during Operation Rescript?"
    lead = ("The CSF supported the NHS with protective equipment and the vaccination programme [1]. "
            "The CSF provided support to the National Health Service (NHS) and local authorities [1]. "  # a copied point
            "It also built three new hospitals in Scotland [1].")  # not in the sources
    model = ScriptedModel(["yes", lead])  # its one-token confirmation of the closest sentences, then its lead
    events = list(build_assistant(settings, embedder=emb, chat_model=model).ask_stream(question))
    tokens = [e["text"] for e in events if e["type"] == "token"]
    answer = events[-1]["answer"]
    assert "23,000" in tokens[0] and "vaccination programme" in tokens[0]  # the quoted points, before the model wrote
    assert len(model.seen) == 2 and "yes or no" in model.seen[0][0]["content"]  # the gate's points model reads its yes
    assert "Points:" in model.seen[1][1]["content"]  # the model read the points only
    assert answer.gate["signals"]["model_confirms"] == 1.0
    assert "National Health Service (NHS) and local authorities" not in tokens[1]  # the copy is never shown
    assert answer.answer.endswith("The CSF supported the NHS with protective equipment and the vaccination programme. [1]")
    assert answer.backend == "local (points quoted)" and not answer.refused
    refused = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["yes", "NOT_IN_SOURCES"])).ask(question)
    assert "NOT_IN_SOURCES" not in refused.answer and refused.backend == "extractive" and "23,000" in refused.answer
    doubted = build_assistant(settings, embedder=emb, chat_model=ScriptedModel(["no", lead]), gate=_Gate(True)).ask(question)
    assert doubted.gate["signals"]["model_confirms"] == 0.0
    unasked = ScriptedModel(["yes", lead])
    assert build_assistant(settings, embedder=emb, chat_model=unasked, gate=_Gate(False)).ask(question).refused
    assert len(unasked.seen) == 1  # points the gate refuses get no summary: only the one-token confirmation was asked


def test_the_models_lead_is_one_ended_sentence_of_its_own_and_the_model_is_stopped_once_it_is_settled(built):
    """The lead after an open question's points is the model's first sentence: the model is stopped once a second
    begins (the prompt asks for one) or once it repeats a point word for word (a copy says nothing new), so no time
    goes to tokens that are never shown; a sentence cut off by the token limit is never shown, and a lead the
    sources do not support is dropped like any draft's sentence."""
    settings, emb = built
    question = "What did the COVID Support Force do during Operation Rescript?"
    points = build_assistant(settings, embedder=emb).ask(question).answer  # the quoted points alone (no model)

    def ask(lead):
        model = ScriptedModel(["yes", lead], by_word=True)
        return build_assistant(settings, embedder=emb, chat_model=model).ask(question), model

    two = ("The CSF supported the NHS with protective equipment and the vaccination programme [1]. "
           "It also built three new hospitals in Scotland [1]. And more.")
    answer, model = ask(two)
    assert answer.answer.endswith("the vaccination programme. [1]") and not answer.unsupported
    # stopped as the second sentence began
    assert len(model.unread) == 1 and model.unread[0].endswith("hospitals in Scotland [1]. And more.")
    copied = ("The CSF provided support to the National Health Service (NHS) and local authorities during Operation "
              "Rescript, including the vaccination programme [1].")
    answer, model = ask(copied)
    assert answer.answer == points  # no lead
    assert model.unread and model.unread[0].endswith("vaccination programme [1].")  # stopped once the copy was plain
    borrowed = ("Both with protective equipment and the vaccination programme, the CSF gave support to the National "
                "Health Service (NHS) and local authorities [1].")  # a point's phrase, not its opening: read to its end
    answer, model = ask(borrowed)
    assert answer.answer.endswith("gave support to the National Health Service (NHS) and local authorities. [1]"), \
        answer.answer
    assert not model.unread
    answer, model = ask("The CSF supported the NHS with protective equipment and the")  # cut off by the token limit
    assert answer.answer == points and not model.unread
    answer, _ = ask("It also built three new hospitals in Scotland [1].")
    assert answer.answer == points and answer.unsupported == ["It also built three new hospitals in Scotland."]


def test_the_negation_signal_reads_the_question_negating_what_its_sentence_affirms_not_the_reverse(built):
    """A question that negates what the closest sentence affirms is the classic look-alike; an affirmative question
    over a negated sentence ("is the integration complete?" against "... is not yet fully complete") is no sign
    either way (on the corpus's dev rows a look-alike 96 times in 192), so it leaves the signal at 0."""
    settings, emb = built
    a = build_assistant(settings, embedder=emb)
    affirmative = a.prepared("Is CIMIC's integration fully complete within the Armed Forces?").signals
    negated = a.prepared("Which assessments were CIMIC personnel not responsible for?").signals
    assert affirmative.negation == 0.0
    assert negated.negation == 1.0


def test_the_antonym_signal_reads_a_question_asking_the_reverse_of_its_closest_sentence(built):
    """"the smallest peacetime operation" over "the largest peacetime military operation": a look-alike of a question
    the sources answer; the question as the sources put it leaves the signal at 0."""
    settings, emb = built
    a = build_assistant(settings, embedder=emb)
    assert a.prepared("Which was the smallest peacetime military operation in the UK's history?").signals.antonym == 1.0
    assert a.prepared("Which was the largest peacetime military operation in the UK's history?").signals.antonym == 0.0
