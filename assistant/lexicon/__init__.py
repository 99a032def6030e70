"""Word lists built from maintained lexicons, read by `language.py`: WordNet's antonyms (`build_antonyms.py`)."""
