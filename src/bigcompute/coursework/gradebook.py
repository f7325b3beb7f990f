"""The course's gradebook: every student's weighted total over all chapters, for a
spreadsheet, Canvas or Moodle.

The scores come from nbgrader's gradebook (``gradebook.db`` in the course folder), or from
the CSV that ``nbgrader export`` writes from it. A chapter's score is nbgrader's: the
automatic points (partial credit included) plus the points graded by hand, less any late
penalty; a chapter a student did not submit scores 0. A student's total is

    total = 100 x sum_ch( w_ch x score_ch / max_ch ) / sum_ch( w_ch )

a percentage, with each chapter weighted by ``w_ch`` (1 each by default, so every chapter
counts the same whatever its points). From a shell, in the repository root:

    python -m bigcompute.coursework.grading gradebook --course-dir DIR [--weights ch04=2]

writes ``DIR/totals.csv`` (one row per student: each chapter's score, maximum and
percentage, and the total), ``DIR/totals-canvas.csv`` (Canvas's gradebook import:
Student, ID, SIS User ID, SIS Login ID, Section, then the total, under a "Points Possible"
row) and ``DIR/totals-moodle.csv`` (Moodle's "Import grades > CSV file": a Username column
to identify each student by and the total to map onto a grade item).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_COLUMN",
    "FORMATS",
    "ChapterScore",
    "StudentTotal",
    "export",
    "nbgrader_tools_on_path",
    "parse_weights",
    "read_gradebook_db",
    "read_nbgrader_csv",
    "weighted_totals",
    "write_totals",
]

FORMATS = ("csv", "canvas", "moodle")
DEFAULT_COLUMN = "Big Compute coursework (%)"
NBGRADER_CSV_COLUMNS = ("assignment", "student_id", "last_name", "first_name", "email",
                        "score", "max_score")


@dataclass(frozen=True)
class ChapterScore:
    """One student's score in one assignment (chapter), as nbgrader records it."""

    student: str
    assignment: str
    score: float
    max_score: float
    first_name: str = ""
    last_name: str = ""
    email: str = ""


@dataclass
class StudentTotal:
    student: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # (score, max)
    total_percent: float = 0.0


def nbgrader_tools_on_path() -> None:
    """nbgrader runs the `alembic` command (installed beside this Python) to check its
    database's schema: make it findable when the virtual environment is not activated."""
    bin_dir = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None and bin_dir not in os.environ.get("PATH", ""):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _number(name: str, text, where: str) -> float:
    try:
        value = float(text) if text not in (None, "") else 0.0
    except (TypeError, ValueError):
        raise ValueError(f"{name}={text!r} is not allowed in {where}: expected a number") \
            from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={text!r} is not allowed in {where}: expected a finite "
                         f"number of at least 0")
    return value


def read_gradebook_db(path: Path | str) -> list[ChapterScore]:
    """Every (student, assignment) of an nbgrader gradebook database: the submission's
    score (automatic + by hand - late penalty, at least 0), or 0 when none was submitted."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} is not allowed: expected nbgrader's gradebook "
                         f"database (gradebook.db in the course folder)")
    # lazy: nbgrader (and its database stack) loads only for the instructor's commands
    from nbgrader.api import Gradebook, MissingEntry

    nbgrader_tools_on_path()
    rows = []
    with Gradebook(f"sqlite:///{path.resolve()}") as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                    score = max(0.0, sub.score - (sub.late_submission_penalty or 0.0))
                except MissingEntry:
                    score = 0.0
                rows.append(ChapterScore(student.id, assignment.name, float(score),
                                         float(assignment.max_score), student.first_name or "",
                                         student.last_name or "", student.email or ""))
    return rows


def read_nbgrader_csv(path: Path | str) -> list[ChapterScore]:
    """The rows of ``nbgrader export``'s CSV (columns assignment, student_id, last_name,
    first_name, email, score, max_score, ...)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} is not allowed: expected the CSV that "
                         f"`nbgrader export` writes")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in NBGRADER_CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"path={str(path)!r} is not allowed: expected nbgrader export's "
                             f"columns, missing {', '.join(missing)}")
        return [ChapterScore(row["student_id"], row["assignment"],
                             _number("score", row["score"], path.name),
                             _number("max_score", row["max_score"], path.name),
                             row["first_name"], row["last_name"], row["email"])
                for row in reader]


def parse_weights(text: str | None) -> dict[str, float]:
    """"ch04=2,ch05=0.5" -> {"ch04": 2.0, "ch05": 0.5}; None or "" -> {} (all weigh 1)."""
    if not text:
        return {}
    weights = {}
    for item in text.split(","):
        name, sep, value = item.strip().partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not name or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weights={text!r} is not allowed: expected assignment=weight "
                             f"pairs separated by commas, weights at least 0 (ch04=2,ch05=1)")
        weights[name.strip()] = weight
    return weights


def weighted_totals(rows: list[ChapterScore],
                    weights: dict[str, float] | None = None) -> list[StudentTotal]:
    """Each student's total, a percentage: the ``weights``-weighted mean of their chapters'
    score / max (every assignment in ``rows``; one a student lacks a row for scores 0).
    Students sorted by id; assignments in their order of first appearance."""
    weights = dict(weights or {})
    assignments: dict[str, float] = {}
    for row in rows:
        assignments.setdefault(row.assignment, row.max_score)
    if not assignments:
        raise ValueError("rows=[] is not allowed: expected the scores of at least one "
                         "assignment")
    unknown = sorted(set(weights) - set(assignments))
    if unknown:
        raise ValueError(f"weights={weights!r} is not allowed: {', '.join(unknown)} is not an "
                         f"assignment of this gradebook ({', '.join(assignments)})")
    for name, weight in weights.items():
        if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weights={weights!r} is not allowed: expected weights of at "
                             f"least 0, not {name}={weight!r}")
    weight_of = {a: float(weights.get(a, 1.0)) for a in assignments}
    if sum(weight_of.values()) <= 0:
        raise ValueError(f"weights={weights!r} is not allowed: expected at least one "
                         f"assignment with a positive weight")
    students: dict[str, StudentTotal] = {}
    for row in rows:
        total = students.setdefault(row.student, StudentTotal(row.student))
        total.first_name = total.first_name or row.first_name
        total.last_name = total.last_name or row.last_name
        total.email = total.email or row.email
        total.scores[row.assignment] = (row.score, row.max_score)
    for total in students.values():
        share = 0.0
        for assignment, max_score in assignments.items():
            score, max_score = total.scores.setdefault(assignment, (0.0, max_score))
            share += weight_of[assignment] * (score / max_score if max_score else 0.0)
        total.total_percent = 100 * share / sum(weight_of.values())
    return [students[s] for s in sorted(students)]


def _assignments(totals: list[StudentTotal]) -> list[str]:
    return list(totals[0].scores) if totals else []


def write_totals(totals: list[StudentTotal], path: Path | str, fmt: str = "csv",
                 column: str = DEFAULT_COLUMN) -> Path:
    """Write ``totals`` in ``fmt``: "csv" (every chapter and the total), "canvas" or
    "moodle" (the total only, in that system's import format)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt={fmt!r} is not allowed: expected one of {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if fmt == "csv":
            assignments = _assignments(totals)
            writer.writerow(["student_id", "last_name", "first_name", "email",
                             *(f"{a}_{what}" for a in assignments
                               for what in ("score", "max", "percent")), "total_percent"])
            for t in totals:
                cells = []
                for a in assignments:
                    score, max_score = t.scores[a]
                    percent = 100 * score / max_score if max_score else 0.0
                    cells += [f"{score:g}", f"{max_score:g}", f"{percent:.2f}"]
                writer.writerow([t.student, t.last_name, t.first_name, t.email, *cells,
                                 f"{t.total_percent:.2f}"])
        elif fmt == "canvas":
            # Canvas matches rows on SIS User ID / SIS Login ID when ID (its own number) is
            # blank; the second row gives the new column's points possible
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
            writer.writerow(["Points Possible", "", "", "", "", "100"])
            for t in totals:
                name = ", ".join(n for n in (t.last_name, t.first_name) if n) or t.student
                writer.writerow([name, "", t.student, t.student, "", f"{t.total_percent:.2f}"])
        else:
            # Moodle: map "Username" to the user field "username" and the total to a grade
            # item (out of 100) when importing
            writer.writerow(["Username", "Email address", "First name", "Last name", column])
            for t in totals:
                writer.writerow([t.student, t.email, t.first_name, t.last_name,
                                 f"{t.total_percent:.2f}"])
    return path


def export(source: Path | str, out_dir: Path | str, weights: dict[str, float] | None = None,
           formats=FORMATS, column: str = DEFAULT_COLUMN) -> dict[str, Path]:
    """Read ``source`` (nbgrader's gradebook.db, or a CSV from ``nbgrader export``) and write
    the totals into ``out_dir`` in each of ``formats``: totals.csv, totals-canvas.csv,
    totals-moodle.csv. Returns {format: path}."""
    source = Path(source)
    rows = read_nbgrader_csv(source) if source.suffix == ".csv" else read_gradebook_db(source)
    totals = weighted_totals(rows, weights)
    names = {"csv": "totals.csv", "canvas": "totals-canvas.csv",
             "moodle": "totals-moodle.csv"}
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats={formats!r} is not allowed: expected some of "
                         f"{', '.join(FORMATS)}")
    return {fmt: write_totals(totals, Path(out_dir) / names[fmt], fmt, column)
            for fmt in formats}
