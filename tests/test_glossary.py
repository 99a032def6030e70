"""The curated glossary: 43 entries, every text verbatim from the captured CCOE page."""

from pathlib import Path

import yaml

from assistant.ingest.glossary import load_glossary

ROOT = Path(__file__).resolve().parent.parent
RAW = (ROOT / "knowledge" / "003_37e38ac08ce320b4.txt").read_text(encoding="utf-8")


def norm(s: str) -> str:
    return " ".join(s.split())


def test_glossary_has_43_entries_with_restored_terms():
    entries = load_glossary(ROOT / "knowledge" / "glossary.yaml")
    assert len(entries) == 43
    terms = [e.term for e in entries]
    assert len(set(terms)) == 43
    assert "Civil-Military Interaction (CMI)" in terms
    for e in entries:
        if e.acronym:
            assert f"({e.acronym})" in e.term


def test_every_text_is_verbatim_in_the_raw_page():
    raw = norm(RAW)
    entries = load_glossary(ROOT / "knowledge" / "glossary.yaml")
    checked = 0
    for e in entries:
        for field in ("definition", "nato_agreed", "connection_to_cimic", "map_definition"):
            text = getattr(e, field)
            if text:
                assert norm(text) in raw, f"{e.term}: {field} is not verbatim in the page"
                checked += 1
        assert e.keywords, f"{e.term} has no keywords"
    nato = [e for e in entries if e.nato_agreed]
    assert len(nato) == RAW.split("Concepts and Terminology", 1)[1].count("(NATO agreed)") == 12
    assert sum(1 for e in entries if e.connection_to_cimic) == RAW.count("Connection to CIMIC:") == 6
    assert checked > 43


def test_cimic_map_definitions_are_merged():
    data = yaml.safe_load((ROOT / "knowledge" / "glossary.yaml").read_text(encoding="utf-8"))
    by_term = {e["term"]: e for e in data["entries"]}
    assert "Wargaming is a deliberate" in by_term["Wargaming"]["map_definition"]
    assert by_term["Civil-Military Interaction (CMI)"]["map_definition"].startswith("Activities between military NATO bodies")
    assert sum(1 for e in data["entries"] if e.get("map_definition")) >= 20
