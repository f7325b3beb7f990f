"""Coursework: hand out a chapter's exercises, grade the submissions, build a site for students.

Each chapter N (1-8) ends with ``notebooks/NN_<chapter>/NN_exercises.ipynb``, written in
nbgrader's markup: answer cells with ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions,
locked check cells with points (some with ``### BEGIN HIDDEN TESTS`` regions that check the
exact value) and "explain" answers graded by hand. The notebook in the repository is the
*instructor version*: it carries the solutions, and running it checks them.

This module drives nbgrader (https://nbgrader.readthedocs.io) offline: no server, no
exchange, grades in an SQLite file inside the course folder. From a shell, in the
repository root:

    python -m bigcompute.coursework.grading release 4           # student version of chapter 4
    python -m bigcompute.coursework.grading grade submissions/  # autograde: CSV + HTML feedback
    python -m bigcompute.coursework.grading site                # the website without solutions
    python -m bigcompute.coursework.grading gradebook           # totals: CSV, Canvas, Moodle

``release CH`` writes ``_build/course/release/chNN/NN_exercises.ipynb`` (the file to hand
out). ``grade DIR`` takes one folder per student (``DIR/<student>/NN_exercises.ipynb``),
autogrades them, and writes ``_build/course/grades-chNN.csv`` and one feedback page per
student under ``_build/course/feedback/<student>/chNN/``. ``site`` builds the book with every
exercises notebook replaced by its student version, into ``_build/students/_build/html``.
See book/instructor_guide.md.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import fnmatch
import re
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from .gradebook import FORMATS, export, nbgrader_tools_on_path, parse_weights

__all__ = [
    "CELL_TIMEOUT_S",
    "CHAPTERS",
    "DEFAULT_COURSE_DIR",
    "DEFAULT_SITE_DIR",
    "EXERCISES_GLOB",
    "NBGRADER_CONFIG",
    "GradeReport",
    "StudentResult",
    "assignment_id",
    "copy_book",
    "exercise_notebook",
    "exercise_notebooks",
    "exercise_of",
    "grade",
    "is_solution",
    "is_test",
    "main",
    "nbgrader_meta",
    "points",
    "release",
    "repo_root",
    "solution_texts",
    "split_hidden",
    "stage_student_book",
    "student_notebook",
    "student_site",
]

CHAPTERS = range(1, 9)
DEFAULT_COURSE_DIR = Path("_build") / "course"
DEFAULT_SITE_DIR = Path("_build") / "students"
EXERCISES_GLOB = "[0-9][0-9]_*/[0-9][0-9]_exercises.ipynb"
CELL_TIMEOUT_S = 120  # per cell when autograding (nbgrader's default is 30 s)
# copied into the staging tree of the student site: everything but these
_NOT_STAGED = (".git", ".venv", "_build", "__pycache__", ".pytest_cache", ".hypothesis",
               ".ipynb_checkpoints", ".jupyter_cache", "*.egg-info", ".ruff_cache")


NBGRADER_CONFIG = f'''"""nbgrader settings of this course folder, written by
bigcompute.coursework.grading.

Run nbgrader's own commands (and JupyterLab's Formgrader, for the questions graded by hand)
from this folder; the grades are in gradebook.db beside this file. See the book's instructor
guide (appendix E) for a shared JupyterHub, where an exchange and a course_id are added.
"""

c = get_config()  # noqa: F821 (nbgrader defines it)
c.Execute.timeout = {CELL_TIMEOUT_S}  # seconds per cell when autograding
# feedback without the hidden tests, and a failed check's message without its traceback:
# their code would show how the expected values are made (bigcompute.coursework.feedback)
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "bigcompute.coursework.feedback.ShortTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
'''


# ------------------------------------------------------------------ where things are

def repo_root(start: Path | None = None) -> Path:
    """The book's root: the nearest folder at or above ``start`` (default: the current
    directory) holding ``_toc.yml`` and ``notebooks/``; else the repository this module is
    installed from (editable install)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists() and (folder / "notebooks").is_dir():
            return folder
    installed = Path(__file__).resolve().parents[3]  # src/bigcompute/coursework/grading.py
    if (installed / "notebooks").is_dir():
        return installed
    raise FileNotFoundError(f"no book (a folder with _toc.yml and notebooks/) at or above {here}")


def exercise_notebooks(root: Path | None = None) -> dict[int, Path]:
    """Chapter number -> its exercises notebook (the instructor version)."""
    root = repo_root() if root is None else Path(root)
    found = {int(p.name[:2]): p for p in sorted((root / "notebooks").glob(EXERCISES_GLOB))}
    return {ch: found[ch] for ch in sorted(found)}


def exercise_notebook(chapter: int, root: Path | None = None) -> Path:
    notebooks = exercise_notebooks(root)
    if chapter not in notebooks:
        raise ValueError(f"no exercises notebook for chapter {chapter}; there are: "
                         f"{', '.join(str(c) for c in notebooks) or 'none'}")
    return notebooks[chapter]


def assignment_id(chapter: int) -> str:
    """nbgrader's name for a chapter's assignment: "ch04"."""
    return f"ch{int(chapter):02d}"


def _chapter_of(name: str) -> int | None:
    match = re.fullmatch(r"(\d\d)_exercises\.ipynb", name)
    return int(match.group(1)) if match else None


# ------------------------------------------------------------------ the notebooks' markup

def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def points(nb) -> dict[str, float]:
    """Points of every graded cell, by grade_id (check cells and explain answers)."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
            for c in nb.cells if nbgrader_meta(c).get("grade")}


def exercise_of(grade_id: str) -> str:
    """"ex3_check2" -> "ex3": the exercise a cell belongs to."""
    return grade_id.split("_", 1)[0]


def solution_texts(nb) -> list[str]:
    """What must never reach a student: the code between the solution delimiters, whole
    markdown answers, and hidden tests. One entry per line (leaving out lines too short or
    too common to identify anything: fences, directive options, brackets)."""
    return [line.strip() for cell in nb.cells for line in split_hidden(cell)[0]
            if _distinctive(line)]


def split_hidden(cell) -> tuple[list[str], list[str]]:
    """A cell's lines as (hidden from students, visible to them): the lines between the
    solution or hidden-test delimiters, or all of a markdown answer, are hidden; the
    delimiter lines themselves are neither."""
    if is_solution(cell) and cell.cell_type == "markdown":
        return cell.source.splitlines(), []
    hidden, visible, inside = [], [], False
    for line in cell.source.splitlines():
        if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return hidden, visible


def _distinctive(line: str) -> bool:
    """A line worth looking for: words, not a fence, a directive option or a bracket."""
    line = line.strip()
    return (len(line) >= 6 and re.search("[A-Za-z]", line) is not None
            and not line.startswith(("```", ":")))


def student_notebook(nb) -> nbformat.NotebookNode:
    """The student version of an instructor notebook, without nbgrader's database: solution
    regions replaced by a stub, markdown answers by "YOUR ANSWER HERE", hidden tests removed,
    outputs cleared, and the answer cells shown (not collapsed). `release` produces the same
    cells through nbgrader itself (plus checksums for grading)."""
    # lazy: nbgrader (and its database stack) loads only for the instructor's commands
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    nb = copy.deepcopy(nb)
    resources: dict = {}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        nb, resources = preprocessor.preprocess(nb, resources)
    for cell in nb.cells:
        if is_solution(cell) and "tags" in cell.metadata:
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "hide-input"]
    return nb


# ------------------------------------------------------------------ nbgrader, offline

def _api(course_dir: Path):
    # lazy: nbgrader (and its database stack) loads only for the instructor's commands
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    nbgrader_tools_on_path()

    course_dir = Path(course_dir).resolve()
    course_dir.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    config.Execute.timeout = CELL_TIMEOUT_S
    # feedback without the hidden tests or tracebacks (as NBGRADER_CONFIG says)
    from .feedback import FEEDBACK_PREPROCESSORS

    config.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    return NbGraderAPI(config=config)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader {what} failed:\n{result.get('error') or ''}\n"
                           f"{result.get('log') or ''}")


def release(chapter: int, course_dir: Path | str = DEFAULT_COURSE_DIR,
            root: Path | None = None) -> Path:
    """Make the student version of chapter ``chapter``'s exercises with nbgrader's
    generate_assignment; returns the notebook to hand out,
    ``<course_dir>/release/chNN/NN_exercises.ipynb``. Re-running replaces it."""
    source_nb = exercise_notebook(chapter, root)
    course_dir = Path(course_dir).resolve()
    aid = assignment_id(chapter)
    source = course_dir / "source" / aid
    source.mkdir(parents=True, exist_ok=True)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():  # for nbgrader's own commands and formgrader, run in course_dir
        config.write_text(NBGRADER_CONFIG)
    shutil.copy2(source_nb, source / source_nb.name)
    _check(_api(course_dir).generate_assignment(aid, force=True, create=True),
           f"generate_assignment {aid}")
    released = course_dir / "release" / aid / source_nb.name
    if not released.exists():
        raise RuntimeError(f"nbgrader did not write {released}")
    return released


@dataclass
class StudentResult:
    student: str
    auto_score: float
    auto_max: float
    manual_max: float
    by_exercise: dict[str, float | None]  # None: graded by hand, not yet graded
    feedback: Path | None


@dataclass
class GradeReport:
    chapter: int
    csv: Path
    students: list[StudentResult] = field(default_factory=list)
    seconds: float = 0.0

    def score(self, student: str) -> float:
        return next(s.auto_score for s in self.students if s.student == student)


def _find_submissions(submissions: Path, chapter: int | None) -> tuple[int, dict[str, Path]]:
    """``submissions/<student>/[<anything>/]NN_exercises.ipynb`` -> chapter, {student: path}."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"no folder {submissions}")
    found: dict[str, Path] = {}
    chapters = set()
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        notebooks = sorted(p for p in student_dir.rglob("*.ipynb")
                           if ".ipynb_checkpoints" not in p.parts)
        named = [p for p in notebooks if _chapter_of(p.name) is not None
                 and (chapter is None or _chapter_of(p.name) == chapter)]
        if named:
            chosen = named[0]
        elif len(notebooks) == 1 and chapter is not None:
            chosen = notebooks[0]  # a renamed file: accepted when the chapter is given
        else:
            print(f"skipping {student_dir.name}: no NN_exercises.ipynb in it", file=sys.stderr)
            continue
        found[student_dir.name] = chosen
        chapters.add(chapter if _chapter_of(chosen.name) is None else _chapter_of(chosen.name))
    if not found:
        raise ValueError(f"no submissions in {submissions}: expected one folder per student "
                         f"holding NN_exercises.ipynb")
    if len(chapters) > 1:
        raise ValueError(f"submissions for several chapters {sorted(chapters)} in "
                         f"{submissions}; grade one chapter at a time (--chapter)")
    return chapters.pop(), found


def grade(submissions: Path | str, chapter: int | None = None,
          course_dir: Path | str = DEFAULT_COURSE_DIR, csv_path: Path | str | None = None,
          root: Path | None = None, feedback: bool = True) -> GradeReport:
    """Autograde every submission in ``submissions`` (one folder per student, holding
    ``NN_exercises.ipynb``) with nbgrader; write a CSV of scores (one row per student: the
    automatic score, its maximum, the points still to grade by hand, and each exercise's
    automatic points) and, with ``feedback``, an HTML feedback page per student."""
    start = time.perf_counter()
    chapter, found = _find_submissions(Path(submissions), chapter)
    course_dir = Path(course_dir).resolve()
    aid = assignment_id(chapter)
    nb_name = exercise_notebook(chapter, root).name
    if not (course_dir / "release" / aid / nb_name).exists():
        release(chapter, course_dir, root)
    api = _api(course_dir)
    for student, path in found.items():
        with _quiet_sqlalchemy():
            _autograde(api, aid, student, path, course_dir / "submitted" / student / aid,
                       nb_name, feedback)


    report = GradeReport(chapter, Path(csv_path or course_dir / f"grades-{aid}.csv"))
    # lazy: nbgrader (and its database stack) loads only for the instructor's commands
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb, _quiet_sqlalchemy():
        for student in found:
            notebook = gb.find_submission_notebook(Path(nb_name).stem, aid, student)
            by_exercise: dict[str, float | None] = {}
            auto = auto_max = manual_max = 0.0
            for g in sorted(notebook.grades, key=lambda g: g.name):
                ex = exercise_of(g.name)
                if g.cell.cell_type == "markdown":  # an explain answer: graded by hand
                    manual_max += g.max_score
                    by_exercise.setdefault(ex, None)
                    continue
                score = g.score or 0.0
                auto += score
                auto_max += g.max_score
                by_exercise[ex] = (by_exercise.get(ex) or 0.0) + score
            page = course_dir / "feedback" / student / aid / f"{Path(nb_name).stem}.html"
            report.students.append(StudentResult(
                student, auto, auto_max, manual_max,
                dict(sorted(by_exercise.items(), key=lambda kv: int(kv[0][2:]))),
                page if page.exists() else None))
    _write_csv(report)
    report.seconds = time.perf_counter() - start
    return report


def _autograde(api, aid: str, student: str, path: Path, target: Path, nb_name: str,
               feedback: bool) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(path, target / nb_name)
    _check(api.autograde(aid, student, force=True, create=True), f"autograde {student}")
    if feedback:
        _check(api.generate_feedback(aid, student, force=True), f"generate_feedback {student}")


@contextlib.contextmanager
def _quiet_sqlalchemy():
    """nbgrader 0.9.6 with SQLAlchemy 2 warns "object not in session" for every submission;
    the grades are stored all the same (tests/coursework/test_coursework.py checks them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session.*")
        yield


def _write_csv(report: GradeReport) -> None:
    exercises = list(report.students[0].by_exercise) if report.students else []
    report.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(report.csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "auto_score", "auto_max", "by_hand_max", *exercises,
                         "feedback"])
        for s in report.students:
            writer.writerow([s.student, f"{s.auto_score:g}", f"{s.auto_max:g}",
                             f"{s.manual_max:g}",
                             *("by hand" if s.by_exercise.get(e) is None
                               else f"{s.by_exercise[e]:g}" for e in exercises),
                             s.feedback or ""])


# ------------------------------------------------------------------ the site for students

def copy_book(root: Path, dest: Path) -> Path:
    """Copy the book's source tree to ``dest`` (replaced if it exists), without version
    control, virtual environment, build outputs and caches."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root, dest, symlinks=True, ignore=lambda d, names: [
        n for n in names if any(fnmatch.fnmatch(n, pat) for pat in _NOT_STAGED)])
    return dest


def stage_student_book(stage: Path, root: Path | None = None, toc: Path | None = None) -> Path:
    """Copy the book's sources to ``stage`` with every exercises notebook replaced by its
    student version, and a configuration that does not execute those notebooks (their
    answers are stubs that raise NotImplementedError). ``toc`` replaces _toc.yml."""
    stage = copy_book(repo_root() if root is None else Path(root), stage)
    for path in (stage / "notebooks").glob(EXERCISES_GLOB):
        nbformat.write(student_notebook(nbformat.read(path, as_version=4)), path)
    config_path = stage / "_config.yml"
    config = yaml.safe_load(config_path.read_text())
    execute = config.setdefault("execute", {})
    execute["exclude_patterns"] = [*execute.get("exclude_patterns", []), "*_exercises.ipynb"]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    if toc is not None:
        shutil.copy(toc, stage / "_toc.yml")
    return stage


def student_site(out: Path | str = DEFAULT_SITE_DIR, root: Path | None = None,
                 toc: Path | None = None, strict: bool = True) -> Path:
    """Build the website without solutions: the sources staged into ``out/source``
    (`stage_student_book`), built into ``out/_build/html``; returns that folder."""
    out = Path(out).resolve()
    stage = stage_student_book(out / "source", root, toc)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", *(["-W", "-n", "--keep-going"] if strict else []),
               "--path-output", str(out), str(stage)]
    result = subprocess.run(command, cwd=stage, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {result.returncode}):\n"
                           + "\n".join((result.stdout + result.stderr).splitlines()[-60:]))
    return out / "_build" / "html"


# ------------------------------------------------------------------ command line

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bigcompute.coursework.grading",
                                description="Coursework with nbgrader: release, grade, site.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("release", help="make the student version of a chapter's exercises")
    r.add_argument("chapter", type=int, choices=list(CHAPTERS))
    r.add_argument("--course-dir", default=str(DEFAULT_COURSE_DIR))
    g = sub.add_parser("grade", help="autograde a folder of submissions (one per student)")
    g.add_argument("submissions", help="folder with <student>/NN_exercises.ipynb")
    g.add_argument("--chapter", type=int, choices=list(CHAPTERS),
                   help="the chapter (default: from the notebooks' names)")
    g.add_argument("--course-dir", default=str(DEFAULT_COURSE_DIR))
    g.add_argument("--csv", help="where to write the scores (default: "
                                 "<course-dir>/grades-chNN.csv)")
    g.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    s = sub.add_parser("site", help="build the website without solutions")
    s.add_argument("--out", default=str(DEFAULT_SITE_DIR))
    s.add_argument("--toc", help="a table of contents to use instead of _toc.yml")
    s.add_argument("--no-strict", action="store_true", help="do not treat warnings as errors")
    sub.add_parser("list", help="the chapters that have exercises, with their points")
    b = sub.add_parser("gradebook", help="every student's weighted total over all chapters, "
                                         "as CSV and for Canvas and Moodle")
    b.add_argument("--course-dir", default=str(DEFAULT_COURSE_DIR),
                   help="the course folder: reads its gradebook.db, writes totals*.csv")
    b.add_argument("--from-csv", help="read a CSV from `nbgrader export` instead")
    b.add_argument("--weights", help="weights by assignment, e.g. ch04=2,ch08=0.5 "
                                     "(default: every chapter weighs 1)")
    b.add_argument("--out", help="where to write (default: the course folder)")
    b.add_argument("--formats", default=",".join(FORMATS),
                   help=f"some of {','.join(FORMATS)} (default: all)")
    args = p.parse_args(argv)
    try:
        if args.command == "release":
            start = time.perf_counter()
            path = release(args.chapter, args.course_dir)
            print(f"student version of chapter {args.chapter}: {path} "
                  f"({time.perf_counter() - start:.1f} s)")
        elif args.command == "grade":
            report = grade(args.submissions, args.chapter, args.course_dir, args.csv,
                           feedback=not args.no_feedback)
            for s in report.students:
                print(f"{s.student:<20} {s.auto_score:g} / {s.auto_max:g} automatic"
                      f" (+{s.manual_max:g} by hand)  {s.feedback or ''}")
            print(f"scores: {report.csv} ({len(report.students)} submissions, "
                  f"{report.seconds:.1f} s)")
        elif args.command == "gradebook":
            course_dir = Path(args.course_dir)
            written = export(args.from_csv or course_dir / "gradebook.db",
                             args.out or course_dir, parse_weights(args.weights),
                             [f.strip() for f in args.formats.split(",") if f.strip()])
            for fmt, path in written.items():
                print(f"{fmt}: {path}")
        elif args.command == "site":
            html = student_site(args.out, toc=args.toc, strict=not args.no_strict)
            print(f"the site without solutions: file://{html}/index.html")
        else:
            for ch, path in exercise_notebooks().items():
                nb = nbformat.read(path, as_version=4)
                pts = points(nb)
                n_ex = len({exercise_of(k) for k in pts})
                manual = sum(v for k, v in pts.items() if k.endswith("_explain"))
                print(f"chapter {ch}: {path} - {n_ex} exercises, "
                      f"{sum(pts.values()) - manual:g} points automatic + {manual:g} by hand")
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
