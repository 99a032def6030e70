"""CSV exports that a spreadsheet opens safely: a cell that would run as a formula is written as text.

Leaves out: which rows are exported (feedback, the practice class view).
"""
def inert_cell(value):
    """A cell a spreadsheet would run as a formula ("=HYPERLINK(...)") is written as text."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
