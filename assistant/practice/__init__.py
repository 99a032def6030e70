"""Tutor mode: practice questions built from the index (`questions.py`), graded against their key points
and passage (`grading.py`), sessions, progress and the class view kept in the database (`tutor.py`)."""
