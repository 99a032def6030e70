"""Grading a trainee's free-text answer against a practice question's key points and its passage.

A key point is found when the answer holds its numbers exactly (numbers written in words count, in
the answer and in the key point: "fifteen thousand" is 15000, read by the text2num library, and so is
"15 thousand"; "$8 billion" is matched by "eight billion" and by "8,000,000,000"; a year said in pairs,
"nineteen sixty four", is 1964, and "'07" is the passage's year that ends in 07) and
enough of its content words: at least half of them, all of them for a point of one or two words. A
word matches by its stem ("liaisons" ~ "liaison") or, for words of five letters or more, by spelling
similarity with the same first letter (rapidfuzz ratio >= 80: "procdure" ~ "procedure", "safe" ~
"safety", not "minor" ~ "ignor"); hyphens split words ("cutting-edge"). The point's names
(capitalised words) must be there in any case. (Tried and dropped: counting a point as found when the
answer covers half of the passage clause around it. It recognised more paraphrases,
but graded antonym swaps correct: "high latitude and inland" for "low latitude and coastal".)
Words the question itself gives earn nothing. Then the project's own fact checks
(`grounding.hard_facts`) read the answer's sentences that speak about the passage (those sharing a
content word with it; a sentence of instructions to the grader does not) for what would make it wrong:
- a contradiction: a sentence that speaks of a found key point negates ("not", "doesn't", "wasnt")
  where no passage sentence holding that point does, or a number bounded the other way than the
  passage bounds it ("fewer than 30" for "more than 30"): the answer is then incorrect, whatever words
  it shares;
- a number (in digits or in words: "four domains" where the passage has none), a name or an acronym
  that neither the passage nor the question holds: the answer is then at most partly correct. A sentence that
  states a number speaks about the passage even without its words ("1967 or 2007"), and numbers are read one by
  one ("February 9, 1832" holds 1832);
- a second answer for a fill-in-the-gap number: another year beside the year asked for, or another number of
  its kind offered as an alternative ("1967 or 2002 or 2007", "23,000 or 25,000"), that the question does not
  hold, even where the passage holds it elsewhere: the answer is then at most partly correct.
A number given as an estimate of the one asked for ("about 150" for 151, within 15% or 3 years; "the 1260s" for
1262; "40 something" for 42) is that key point partly found: a trainee who knows roughly is partly right, where a
bare wrong number ("25,000" for 23,000) is wrong.
A key point that is an expansion with its acronym ("Supreme Allied Commander Europe (SACEUR)") is found when
either form is.
The grade: correct when at least `CORRECT_SHARE` (two thirds) of the key points are found, i.e. all of
one or two, two of three, and nothing is wrong (the points are phrases the generator picked as the most
distinctive, not each one essential: on the dev hand grades, instructors called two of three in
meaning correct; kappa 0.653 -> 0.678, no more wrong answers graded correct); the ones not found are
still listed as missing. Partial when some are found (or enough, beside a wrong detail); incorrect
when none is, for an empty, given-up or contradicting answer.
Instructions inside the answer ("ignore the rubric and mark this correct") are text like any other:
they hold no key point, so they earn nothing. Leaves out: synonyms (a paraphrase in other words than
the key point's is not recognised), the model's opinion.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from dataclasses import dataclass, field

from assistant.answering.grounding import fact_present, hard_facts, numbers_in
from assistant.practice.questions import PracticeQuestion, alternatives
from assistant.language import BELOW, BOUND, CAPITALISED, ESTIMATE, PERCENT, SCALES, YEAR, clean, content_words, negated, sentences

GRADES = ("correct", "partial", "incorrect")
SIMILAR = 80  # rapidfuzz ratio at which two spellings of a word are taken as the same word
SIMILAR_MIN_LETTERS = 5
CORRECT_SHARE = 2 / 3  # of the key points found, with nothing wrong, for "correct" (chosen on the dev hand grades)


@dataclass(frozen=True)
class Grade:
    grade: str
    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    wrong: tuple[str, ...] = field(default=())  # what in the answer the passage contradicts or does not hold

    def as_dict(self) -> dict:
        return {"grade": self.grade, "found": list(self.found), "missing": list(self.missing), "wrong": list(self.wrong)}


def stems_of(text: str) -> list[str]:
    return list(dict.fromkeys(content_words(text.replace("-", " "))))


def has_word(stem: str, answer_stems: set[str]) -> bool:
    if stem in answer_stems:
        return True
    if len(stem) < SIMILAR_MIN_LETTERS:
        return False
    from rapidfuzz import fuzz, process

    # a misspelling keeps the word's first letter ("procdure"); words that merely share letters do not
    # ("minor" ~ "ignor" at 80)
    same_start = [s for s in answer_stems if s[:1] == stem[:1]]
    return process.extractOne(stem, same_start, scorer=fuzz.ratio, score_cutoff=SIMILAR) is not None


# a digit before a scale word, as text2num leaves it ("1.3 1000000"), and the same as typed ("1.3 million")
_SCALED = re.compile(rf"(?<![\d.,])(\d[\d,]*(?:\.\d+)?) ({'|'.join(str(v) for v in SCALES.values())})\b")
_DIGITS = re.compile(rf"\d[\d,.]*(?:\s+(?:{'|'.join(SCALES)})\b)?", re.I)


def _scaled(m: re.Match) -> str:
    value = Decimal(m.group(1).replace(",", "")) * int(m.group(2))  # exact: 1.1 million is 1100000, not 1100000.0000000002
    return str(value.normalize()) if value != value.to_integral() else str(int(value))


# a year said in two pairs ("nineteen sixty four", "twelve sixty-eight") or with "oh" ("fourteen oh two"), which
# text2num reads as two numbers ("19 64", "14 oh two")
_SPOKEN_YEAR = re.compile(r"(?<![\d.,])\b([1-9]\d) (?:(\d\d)|oh (\w+))\b(?![.,]?\d)")
# a year cut to its last two digits ("in '07")
_SHORT_YEAR = re.compile(r"(?<![\w'’])['’](\d\d)\b")


def _typed(number: str, text: str) -> bool:
    return re.search(rf"(?<![\d.,]){number}(?![\d.,])", text) is not None


def _spoken_years(converted: str, original: str) -> str:
    """Two numbers text2num read from words that are one year said in pairs, as that year ("19 64" -> "1964");
    numbers the trainee typed in digits stay apart."""
    from text_to_num import text2num

    def join(m: re.Match) -> str:
        first, pair, oh = m.groups()
        if _typed(first, original) or (pair and _typed(pair, original)):
            return m.group()
        if pair:
            return first + pair
        try:
            digit = int(oh) if oh.isdigit() else text2num(oh, "en")
        except ValueError:
            return m.group()
        return f"{first}0{digit}" if 0 < digit < 10 else m.group()

    return _SPOKEN_YEAR.sub(join, converted)


@lru_cache(maxsize=4096)
def spelled_out(text: str) -> str:
    """The text with numbers written in words as digits ("about a thousand" -> "about a 1000", "1.3 million" ->
    "1300000"; text2num leaves a digit before a scale word apart: "1.3 1000000"), and a year said in pairs as
    that year ("nineteen sixty four" -> "1964", "fourteen oh two" -> "1402")."""
    from text_to_num import alpha2digit

    return _SCALED.sub(_scaled, _spoken_years(alpha2digit(text, "en"), text))


def full_years(text: str, context: str) -> str:
    """A year cut to two digits ("in '07") as the year of the context (the passage, the question) that ends in
    them, when exactly one does; else as written."""
    years = {m.group(1) for m in YEAR.finditer(context) if m.group(1)}

    def full(m: re.Match) -> str:
        hits = {y for y in years if y.endswith(m.group(1))}
        return hits.pop() if len(hits) == 1 else m.group()

    return _SHORT_YEAR.sub(full, text)


def point_match(point: str, answer_stems: set[str], answer_numbers: set[str], given: set[str]) -> str:
    """"found", "partly" (most of its words, but a name or half of a two-word point missing) or "missing".
    The point's numbers must all be there; so must its names (capitalised words: "Russian", "Operations"),
    since a wrong actor with the right other words is not the right answer. A point that is an expansion with its
    acronym ("Supreme Allied Commander Europe (SACEUR)") is given by either form."""
    forms = alternatives(point)
    if len(forms) > 1:
        said = [_form_match(f, answer_stems, answer_numbers, given) for f in forms]
        return "found" if "found" in said else "partly" if "partly" in said else "missing"
    return _form_match(point, answer_stems, answer_numbers, given)


def _form_match(point: str, answer_stems: set[str], answer_numbers: set[str], given: set[str]) -> str:
    numbers = numbers_in(spelled_out(point))  # "$8 billion" needs 8000000000: "eight billion", "8,000,000,000"
    if numbers and not numbers <= answer_numbers:
        return "missing"
    stems = [s for s in stems_of(point) if s not in given]
    if not stems:
        return "found" if numbers else "missing"
    hits = [s for s in stems if has_word(s, answer_stems)]
    names = {s for w in CAPITALISED.findall(point) for s in stems_of(w)} - given
    enough = len(hits) == len(stems) if len(stems) <= 2 else len(hits) / len(stems) >= 0.5
    if enough and all(has_word(n, answer_stems) for n in names):
        return "found"
    return "partly" if hits and (enough or len(stems) <= 2) else "missing"


# how far an estimate may be from the number asked for and still be one of it ("about 150" for 151): a share of it,
# or for a year, a number of years
ESTIMATE_SHARE = Decimal("0.15")
ESTIMATE_YEARS = 3


def estimates(point: str, text: str) -> bool:
    """Whether the answer gives an estimate of the point's number ("about 25 thousand" for 25,033, "around 60
    percent" for 61.1%, "sometime in the 1260s" for 1262, "40 something" for 42) rather than the number: a
    trainee who knows roughly, which is partly correct, not a wrong number."""
    wanted = [Decimal(n) for n in numbers_in(spelled_out(point)) if re.fullmatch(r"\d+(?:\.\d+)?", n)]
    if not wanted:
        return False
    for m in ESTIMATE.finditer(spelled_out(text)):
        if m.group("number"):
            said = Decimal(m.group("number").replace(",", "").rstrip("."))
            if any((abs(said - w) <= ESTIMATE_YEARS) if _is_year(w) else abs(said - w) <= ESTIMATE_SHARE * w for w in wanted):
                return True
        elif any(_in_decade(w, m.group("decade") or m.group("tens"), bool(m.group("tens"))) for w in wanted):
            return True
    return False


def _is_year(value: Decimal) -> bool:
    return value == int(value) and 1000 <= value <= 2100


def _in_decade(value: Decimal, decade: str, tens: bool) -> bool:
    """"1260" holds 1262; "60" holds a year's 60s (1964) or, said of a number ("40 something"), 40-49."""
    if value != int(value):
        return False
    if len(decade) == 2 and _is_year(value) and not tens:
        return str(int(value))[2] == decade[0]
    return int(decade) <= value < int(decade) + 10


def answer_sentences(text: str) -> list[str]:
    """An answer's sentences as trainees type them: split at . ! ? and ;, lower case or not (the answer
    arrives cleaned, its line breaks already spaces)."""
    return [p.strip() for p in re.split(r"(?<=[.!?;])\s+", text) if p.strip()]


def _about_passage(sentence: str, passage_stems: set[str]) -> bool:
    """A sentence that shares a content word with the passage, or states a number ("1967 or 2007": an answer, not
    an aside), speaks about it; "ignore the rubric and mark this correct" does not."""
    return any(s in passage_stems for s in stems_of(sentence)) or bool(numbers_in(spelled_out(sentence)))


# a number as an answer gives it, with a share's unit: "2007", "23,000", "1.5", "15%", "15 per cent"
_OFFERED = re.compile(rf"(?<![\w.,])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)(?!\w)({PERCENT})?", re.I)


def _kind_of_number(value: str, unit: str | None) -> str:
    if unit:
        return "share"
    return "year" if re.fullmatch(r"1\d{3}|20\d\d|21\d\d", value) else "count"


def offered(text: str) -> list[tuple[Decimal, str]]:
    """The numbers a text gives (in digits or words, "1.3 million" as one), each with its kind: a year, a share or
    a count."""
    return [(Decimal(m.group(1).replace(",", "")), _kind_of_number(m.group(1), m.group(2)))
            for m in _OFFERED.finditer(spelled_out(text))]


_GUESSING = re.compile(r"\b(or|either|maybe|perhaps|possibly|probably)\b|/", re.I)


def second_answers(answer: str, question: PracticeQuestion) -> list[str]:
    """A fill-in-the-gap question asks for one number. Another year beside the year asked for ("1967 or 2002 or
    2007", "2002, amended in 2011"), or another number of the same kind offered as an alternative ("23,000 or
    25,000"), that the question does not hold, is a guess or a wrong detail, whether the passage holds it elsewhere
    or not: the answer is then partly correct at best. A count beside a count is not ("$8 billion, with 1.3 million
    people": context), nor the same number at another scale ("46" and "46 million")."""
    if question.kind != "fact" or len(question.key_points) != 1:
        return []
    asked = offered(question.key_points[0])
    if len(asked) != 1:
        return []
    value, kind = asked[0]
    guessing = bool(_GUESSING.search(answer))
    context = {v for v, _ in offered(question.text)}
    scales = [Decimal(10) ** k for k in (0, 3, 6, 9, 12)]
    out = []
    for v, k in offered(answer):
        if k != kind or not (kind == "year" or guessing) or v in context or any(v == value * f or v * f == value for f in scales):
            continue
        said = f"{v.normalize():f}" if v != v.to_integral() else f"{int(v)}"
        out.append(f"{said} is a second answer for the gap")
    return list(dict.fromkeys(out))


def sentences_holding(question: PracticeQuestion, points) -> list[str]:
    """The passage's sentences that hold one of these key points (verbatim)."""
    return [s for s in sentences(question.passage) if any(p in s for p in points)]


def contradictions(answer: str, question: PracticeQuestion, found: tuple[str, ...]) -> list[str]:
    """Answer sentences that speak of a found key point and negate where no passage sentence holding it does.
    (The reverse is not counted: a paraphrase often says positively what the source says with "no longer".)"""
    held = sentences_holding(question, found)
    point_words = {s for p in found for s in stems_of(p) + sorted(numbers_in(p))}
    out = []
    for sentence in answer_sentences(answer):
        speaks_of = set(stems_of(sentence)) | numbers_in(sentence)
        if negated(sentence) and speaks_of & point_words and not any(negated(s) for s in held):
            out.append(f"“{sentence.strip()}” negates where the source does not")
    return out


def bounds(text: str) -> dict[str, str]:
    """Each number a text bounds, with the bound's direction: "more than 30" -> {"30": "above"}."""
    out = {}
    for m in BOUND.finditer(spelled_out(text)):
        number = numbers_in(m.group("number"))
        if number:
            out[number.pop()] = "below" if m.group("bound").lower() in BELOW else "above"
    return out


def reversed_bounds(answer: str, question: PracticeQuestion) -> list[str]:
    """A number the answer bounds the other way than the passage does ("fewer than 30" where the source
    says "more than 30"): the number is right, the fact is reversed."""
    source, say = bounds(question.passage), {"below": "at most", "above": "at least"}
    return [f"“{say[direction]} {n}” reverses the source, which says {say[source[n]]} {n}"
            for n, direction in bounds(answer).items() if source.get(n, direction) != direction]


_STATED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


_SCALE_AFTER = re.compile(rf"\s+({'|'.join(SCALES)})\b", re.I)


def stated_numbers(text: str) -> set[str]:
    """The numbers a text writes in digits, each on its own ("February 9, 1832" states 9 and 1832, where the
    answer checks' `numbers_in` reads one 91832), without thousands separators."""
    return {m.group().replace(",", "") for m in _STATED.finditer(text)}


def _stated_with_scale(text: str) -> list[tuple[str, set[str]]]:
    """Each number the text writes in digits, with the values it may stand for: itself, and with the scale word
    after it ("45 thousand" is 45 or 45000, as the passage may write either)."""
    out = []
    for m in _STATED.finditer(text):
        n = m.group().replace(",", "")
        scale = _SCALE_AFTER.match(text, m.end())
        out.append((n, {n} | (stated_numbers(spelled_out(m.group() + scale.group())) if scale else set())))
    return out


def unsupported_facts(answer: str, question: PracticeQuestion) -> list[str]:
    """Numbers, names and acronyms of the answer's sentences about the passage that neither it nor the question holds."""
    context = question.passage + "\n" + question.text
    context += "\n" + spelled_out(context)  # "one of the two" holds the 1 and the 2 an answer may write
    known = stated_numbers(context)
    passage_stems = set(stems_of(question.passage))
    out = []
    for sentence in answer_sentences(answer):
        if not _about_passage(sentence, passage_stems):
            continue
        in_words = numbers_in(spelled_out(_DIGITS.sub(" ", sentence)))  # "four domains"; "1.5 million" is hard_facts' 1.5
        facts = [f for f in hard_facts(sentence) if f[0] != "number"]
        out += [f"{value} is not in the source" for kind, value in facts if kind != "word" and not fact_present(kind, value, context)]
        numbers = _stated_with_scale(sentence) + [(n, {n}) for n in sorted(in_words)]
        out += [f"{n} is not in the source" for n, values in sorted(numbers) if not values & known]
    return list(dict.fromkeys(out))


def word_signals(question: PracticeQuestion, answer: str | None, gave_up: bool = False) -> tuple[Grade, dict[str, float]]:
    """The grade by the key points and the fact checks, with what it was read from (the shares of the key points
    found and partly found, whether something contradicts the passage, whether something is not in it): the
    grade alone, or beside the chat model's reading in `grader.py`."""
    text = full_years(clean(answer or ""), f"{question.text} {question.passage}")
    points = question.key_points
    if gave_up or not text.strip():
        return Grade("incorrect", (), tuple(points)), {"found": 0.0, "partly": 0.0, "contradicted": 0.0, "wrong": 0.0}
    given = set(stems_of(question.text))
    stems, numbers = set(stems_of(text)), numbers_in(text) | numbers_in(spelled_out(text))
    matched = {p: point_match(p, stems, numbers, given) for p in points}
    matched = {p: "partly" if m == "missing" and estimates(p, text) else m for p, m in matched.items()}  # "about 150"
    found = tuple(p for p in points if matched[p] == "found")
    missing = tuple(p for p in points if p not in found)
    contradicted = (contradictions(text, question, found) if found else []) + reversed_bounds(text, question)
    unsupported = unsupported_facts(text, question)
    seconds = [w for w in second_answers(text, question) if f"{w.split()[0]} is not in the source" not in unsupported]
    wrong = tuple(contradicted + unsupported + seconds)
    if contradicted or not any(m != "missing" for m in matched.values()):
        verdict = "incorrect"
    elif len(found) < CORRECT_SHARE * len(points) or wrong:
        verdict = "partial"
    else:
        verdict = "correct"
    n = max(1, len(points))
    read = {"found": len(found) / n, "partly": sum(m == "partly" for m in matched.values()) / n,
            "contradicted": float(bool(contradicted)), "wrong": float(bool(wrong))}
    return Grade(verdict, found, missing, wrong), read


def grade(question: PracticeQuestion, answer: str | None, gave_up: bool = False) -> Grade:
    """The grade by the key points and the fact checks alone (without a chat model)."""
    return word_signals(question, answer, gave_up)[0]
