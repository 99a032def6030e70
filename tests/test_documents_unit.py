"""Fast checks at the seams of the Documents tab and the conversations: upload names and types, the
sources.yaml writer, the conversation store's owners, the Markdown export, passages rendered safely,
the glossary search by stems."""

import pytest

from assistant.userdata.conversations import ConversationStore, markdown, owner_of
from assistant.errors import InvalidUpload, NotFound
from assistant.ingest.manifest import load_manifest, write_entry
from assistant.ingest.uploads import check_type, safe_name
from conftest import ROOT, docx_bytes, pdf_bytes


@pytest.mark.parametrize("name", ["../a.txt", "a/b.txt", "..\\a.txt", "/abs.txt", ".env", "", "  ", "a\x07.txt",
                                  "x" * 200 + ".txt", "sources.yaml", "README.md"])
def test_names_that_could_leave_or_hide_in_the_folder_are_refused(name):
    with pytest.raises(InvalidUpload):
        safe_name(name)


def test_a_plain_name_is_kept():
    assert safe_name(" Rapport d’été 2024.pdf ") == "Rapport d’été 2024.pdf"


def test_types_are_judged_by_content():
    check_type("a.docx", docx_bytes("T", ["x"]))
    check_type("a.pdf", pdf_bytes(["x"]))
    check_type("a.md", "# Titre\n\nÉté".encode())
    for name, data in [("a.pdf", docx_bytes("T", ["x"])), ("a.docx", pdf_bytes(["x"])), ("a.txt", pdf_bytes(["x"])),
                       ("a.html", b"\x00\x01binary"), ("a.exe", b"MZ")]:
        with pytest.raises(InvalidUpload) as err:
            check_type(name, data)
        assert err.value.status == 415


def test_the_sources_file_keeps_its_comments_and_layout(tmp_path):
    original = (ROOT / "knowledge" / "sources.yaml").read_text(encoding="utf-8")
    (tmp_path / "sources.yaml").write_text(original, encoding="utf-8")
    write_entry(tmp_path, "new.pdf", {"title": "New: a report", "date": "2026-01-02", "author": ""}, "new-report")
    entry = load_manifest(tmp_path).documents["new.pdf"]
    assert (entry.doc_id, entry.title, entry.date, entry.author) == ("new-report", "New: a report", "2026-01-02", None)
    assert "# Sources manifest" in (tmp_path / "sources.yaml").read_text(encoding="utf-8")
    write_entry(tmp_path, "new.pdf", None)
    assert (tmp_path / "sources.yaml").read_text(encoding="utf-8") == original


def answer(text, n=1):
    return {"answer": text, "refused": False, "grounding": 1.0, "unsupported": [], "question": "q",
            "citations": [{"n": n, "doc_id": "d", "title": "Doc", "section": "S", "page": 3, "text": "The passage *text*.",
                           "score": 1.0, "chunk_id": "c"}]}


def test_conversations_belong_to_their_owner(database_url):
    store = ConversationStore(database_url)
    conv = store.add_turn("alice", None, "What is CMI?", answer("CMI is interaction [1]."))
    store.add_turn("alice", conv, "And CIMIC?", answer("CIMIC is cooperation [1]."))
    assert [c["turns"] for c in store.list("alice")] == [2] and store.list("bob") == []
    assert store.history("alice", conv) == [["What is CMI?", "CMI is interaction [1]."], ["And CIMIC?", "CIMIC is cooperation [1]."]]
    for action in (lambda: store.get("bob", conv), lambda: store.delete("bob", conv), lambda: store.rename("bob", conv, "x"),
                   lambda: store.add_turn("bob", conv, "q", answer("a"))):
        with pytest.raises(NotFound):
            action()
    text = markdown(store.get("alice", conv))
    assert "CMI is interaction [^1]." in text and "CIMIC is cooperation [^2]." in text
    assert "[^2]: Doc, S, p. 3: “The passage *text*.”" in text
    store.delete("alice", conv)
    assert store.list("alice") == []


def test_owner_is_the_login_else_a_well_formed_browser_id():
    assert owner_of("alice", "whatever-id") == "alice"
    assert owner_of("", "0f3c2a9b8d7e6f50") == "client:0f3c2a9b8d7e6f50"
    assert owner_of("", "short") is None and owner_of("", "../../etc") is None and owner_of("", None) is None


def test_passages_are_rendered_as_safe_markdown_with_content_words_marked():
    from assistant.language import content_words
    from assistant.web.views import passage_html

    out = passage_html("**Liaison** and the <script>x()</script> ![i](x.png) [l](javascript:y) cells.", set(content_words("liaisons cells")))
    assert "<strong><mark>Liaison</mark></strong>" in out and "<mark>cells</mark>" in out
    assert "<mark>and</mark>" not in out and "<mark>the</mark>" not in out
    assert "<script>" not in out and "<img" not in out and "href" not in out and "&lt;script&gt;" in out


def test_glossary_search_matches_stems_and_definitions():
    from assistant.ingest.glossary import load_glossary, search_glossary

    entries = load_glossary(ROOT / "knowledge" / "glossary.yaml")
    assert "Civil-Military Interaction (CMI)" in [e.term for e in search_glossary(entries, "liaison")]
    assert search_glossary(entries, "CMI")[0].term == "Civil-Military Interaction (CMI)"
    assert search_glossary(entries, "zzzz") == []
