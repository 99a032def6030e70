"""Evaluation: the runner over gold datasets, metrics, the independent judge, the HTML report, runs started
from the page, the gate's training data and the practice grader's agreement with hand grades."""
