"""Chunks follow the documents' own structure and fit the embedder's window."""

from pathlib import Path

import pytest

from assistant.index.embeddings import MiniLMEmbedder
from assistant.ingest.chunker import card_states, chunk_document, document_card, find_headings
from assistant.documents import LoadedText, SourceInfo
from assistant.ingest.loaders import load
from assistant.ingest.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(scope="module")
def count():
    return MiniLMEmbedder().count_tokens  # the real tokenizer file, no model load


def chunks_of(name, count, tokens=200):
    manifest = load_manifest(KNOWLEDGE)
    loaded = load(KNOWLEDGE / name)
    return chunk_document(loaded, manifest.source_for(name, loaded.title), name, tokens, count), loaded


def test_article_chunks_follow_section_headings(count):
    chunks, loaded = chunks_of("000_6768f1f45eb71369.txt", count)
    sections = {c.section for c in chunks}
    assert "Examples of civil-military cooperation > COVID-19 pandemic" in sections
    assert "2013 Boston Marathon Bombing – Limited Military Involvement" in sections
    headings = find_headings(loaded.text, set())
    starts = sorted(h.start for h in headings)
    for c in chunks:
        # no chunk spans a heading
        assert not any(c.start < s < c.end for s in starts), (c.section, c.text[:60])
    rescript = next(c for c in chunks if "Operation Rescript in March 2020" in c.text)
    assert rescript.section.endswith("COVID-19 pandemic") and rescript.doc_id == "wolowiec-goniewicz-2026"
    assert " ".join(rescript.text.split())[:40] in " ".join(loaded.text[rescript.start:rescript.end].split())


def test_chunks_fit_the_embedder_window(count):
    for name in ["000_6768f1f45eb71369.txt", "001_1c06f413a0d62906.txt"]:
        chunks, _ = chunks_of(name, count, tokens=120)
        assert chunks
        assert max(count(c.text) for c in chunks) <= 120


def test_furniture_and_glossary_part_are_not_indexed(count):
    chunks, _ = chunks_of("004_70786a0b6ae79258.txt", count)
    text = " ".join(c.text for c in chunks)
    assert "Back to Top" not in text and "Twitter icon" not in text and "civil‐military coordination" in text
    chunks, _ = chunks_of("001_1c06f413a0d62906.txt", count)
    assert all("Subscribe for Newsletter" not in c.text for c in chunks)
    chunks, _ = chunks_of("003_37e38ac08ce320b4.txt", count)
    assert chunks and all("Key words" not in c.text and "CIMIC Map" not in c.text for c in chunks)


def test_ids_are_content_hashes(count):
    a, _ = chunks_of("001_1c06f413a0d62906.txt", count)
    b, _ = chunks_of("001_1c06f413a0d62906.txt", count)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)


def test_markdown_sections_use_heading_levels(count):
    text = "# Guide\n\nIntro text for all.\n\n## Liaison\n\nLiaison officers meet weekly with mayors.\n\n## Assessment\n\nTeams assess water and power supplies.\n"
    from assistant.documents import Heading
    loaded = LoadedText(text=text, headings=[Heading(0, "Guide", 1), Heading(text.index("## L"), "Liaison", 2),
                                             Heading(text.index("## A"), "Assessment", 2)])
    chunks = chunk_document(loaded, SourceInfo("g", "g.md", "Guide"), "g.md", 200, count)
    assert [c.section for c in chunks] == ["Guide", "Guide > Liaison", "Guide > Assessment"]


@pytest.mark.parametrize("suffix,body", [
    (".md", "# Field notes\n\nThe cell was set up in spring.\n\n## Notes on the liaison cell\n\n"
            "the liaison cell meets the mayor every monday.\n"),
    (".html", "<h1>Field notes</h1><p>The cell was set up in spring.</p><h2>Notes on the liaison cell</h2>"
              "<p>the liaison cell meets the mayor every monday.</p>"),
])
def test_a_heading_ending_in_lower_case_keeps_its_lower_case_body(tmp_path, count, suffix, body):
    """Joining a paragraph break between two lower-case words mends a sentence broken by a page break; after a
    heading it swallowed the body into the heading's line, and the section was dropped (issue 30, item 4)."""
    path = tmp_path / f"notes{suffix}"
    path.write_text(body, encoding="utf-8")
    chunks = chunk_document(load(path), SourceInfo("n", path.name, "Notes"), path.name, 200, count)
    assert ("Field notes > Notes on the liaison cell", "the liaison cell meets the mayor every monday.") in \
        [(c.section, c.text) for c in chunks]


def test_a_list_cut_off_from_the_sentence_that_introduces_it_gets_that_sentence_back(count):
    """A list longer than a chunk was split from its lead-in ("..., including:"): the items were retrieved and quoted
    without saying what they were items of, and a question about the lead-in found no item (issue 29)."""
    items = "\n".join(f"- Soldiers of unit {n} delivered {what} to the shelters in the flooded districts;"
                      for n, what in enumerate(("water", "food", "blankets", "medicine", "tents", "generators"), 1))
    text = ("The flood of 2010 hit the river valley hard. The engineer battalion supported the civil authorities, "
            f"including:\n\n{items}\n")
    loaded = LoadedText(text=text, headings=[])
    chunks = chunk_document(loaded, SourceInfo("f", "f.md", "Flood"), "f.md", 80, count)
    assert len(chunks) >= 2 and all(count(c.text) <= 80 for c in chunks)
    lead = "The engineer battalion supported the civil authorities, including:"
    first_items = next(c for c in chunks if "unit 1 delivered" in c.text)
    assert first_items.text.startswith(lead)  # the items come with what they are items of
    assert first_items.text == text[first_items.start:first_items.end].strip()  # still verbatim
    assert lead in chunks[0].text  # and the sentence stays where it was


def test_a_card_states_only_the_details_its_record_has():
    """A card without authors cannot say who wrote its document; every card says its title, its kind and who it
    comes from (its publisher, else its authors)."""
    brief = document_card(SourceInfo("b", "b.md", "Policy making", "policy brief", publisher="Harvard Humanitarian Initiative",
                                     date="2008-10"), "b.md").text
    paper = document_card(SourceInfo("p", "p.md", "Mass casualty events", "journal article", author="A. Author; B. Author"),
                          "p.md").text
    assert [d for d in ("title", "kind", "author", "publisher", "date", "doi") if card_states(brief, d)] == [
        "title", "kind", "publisher", "date"]
    assert [d for d in ("title", "kind", "author", "publisher", "date", "doi") if card_states(paper, d)] == [
        "title", "kind", "author", "publisher"]
