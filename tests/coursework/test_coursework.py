"""Coursework: the exercises notebooks, their student versions, autograding, the student site.

The instructor version of every exercises notebook runs under nbval with the other notebooks
(every solution passes its checks). Here: the markup is sound; nbgrader's student version
holds no solution and no hidden test; autograding gives full marks to the solutions, zero to
the untouched student version, and takes away exactly the points of a wrong answer; and the
website built for students carries no solution text anywhere (pages, search index, sources).
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from bigcompute.coursework import grading
from bigcompute.coursework.checks import (
    check_between,
    check_choice,
    check_close,
    check_equal,
    check_number,
    check_true,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = grading.exercise_notebooks(ROOT)
GRADED_CHAPTER = 4  # autograded end to end below (about 7 s per submission)

pytestmark = pytest.mark.timeout(600)


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def cells_of(nb, exercise: str):
    return [c for c in nb.cells
            if grading.exercise_of(grading.nbgrader_meta(c).get("grade_id", "")) == exercise]


def public_text(nb) -> str:
    """The instructor notebook less its solution regions, hidden tests and markdown answers:
    what students may see (computed here independently of nbgrader)."""
    return "\n".join(line for cell in nb.cells for line in grading.split_hidden(cell)[1])


def secrets(nb) -> list[str]:
    """Lines of solutions and hidden tests that students may not see anywhere: what a leak
    would show. (Lines such as `import torch` also occur in visible checks.)"""
    public = public_text(nb)
    return [t for t in grading.solution_texts(nb) if t not in public]


# ------------------------------------------------------------------ the checking helpers

def test_check_close_says_what_was_expected_with_units():
    with pytest.raises(AssertionError, match=r"gpu_days: expected 12,000 GPU-days \(within "
                                             r"1%\), got 10,000 GPU-days \(-17%\)"):
        check_close("gpu_days", 1.0e4, 1.2e4, rel=0.01, unit="GPU-days")
    check_close("gpu_days", 1.2e4 * 1.009, 1.2e4, rel=0.01, unit="GPU-days")


def test_check_close_names_an_order_of_magnitude_error():
    with pytest.raises(AssertionError, match=r"1,000x the expected value"):
        check_close("flops", 3.14e26, 3.14e23, rel=0.01, unit="FLOP")


@pytest.mark.parametrize("bad", [None, "3.1e23", True, [1.0], float("nan"), float("inf")])
def test_an_answer_that_is_not_a_number_is_refused(bad):
    with pytest.raises(AssertionError, match="flops: expected a"):
        check_close("flops", bad, 3.14e23, unit="FLOP")


def test_numpy_scalars_count_as_numbers():
    np = pytest.importorskip("numpy")
    assert check_number("x", np.float32(2.5)) == 2.5
    check_close("x", np.float64(7) / 39, 7 / 39, rel=1e-12)
    check_equal("n", np.int64(6_738_415_616), 6_738_415_616, unit="parameters")


def test_check_equal_accepts_a_whole_float_for_a_count_and_nothing_else():
    check_equal("n", 610000.0, 610_000, unit="FLOP")
    with pytest.raises(AssertionError, match="expected 610,000 FLOP, got 610,001 FLOP"):
        check_equal("n", 610_001, 610_000, unit="FLOP")
    with pytest.raises(AssertionError, match="expected 'compute', got 'memory'"):
        check_equal("bound", "memory", "compute")


def test_range_choice_and_condition_checks():
    check_between("t", 0.08, 0.01, 1, unit="s")
    with pytest.raises(AssertionError, match="expected between 1 h and 100 h, got 5,000 h. "
                                             "Hint: divide by 3600"):
        check_between("t", 5000, 1, 100, unit="h", hint="divide by 3600")
    check_choice("bound", " Compute ", ["compute", "memory"])
    with pytest.raises(AssertionError, match="expected one of"):
        check_choice("bound", "gpu", ["compute", "memory"])
    with pytest.raises(AssertionError, match="x: must hold"):
        check_true("x", False, "must hold")


def test_the_helpers_do_not_import_torch():
    import subprocess
    import sys
    code = ("import sys, bigcompute.coursework.checks; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ the notebooks' markup

def test_every_chapter_1_to_8_has_an_exercises_notebook():
    assert sorted(NOTEBOOKS) == list(range(1, 9))


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_exercises_are_enough_and_of_each_kind(chapter):
    nb = read(NOTEBOOKS[chapter])
    pts = grading.points(nb)
    exercises = {grading.exercise_of(k) for k in pts}
    explain = [k for k in pts if k.endswith("_explain")]
    coding = [c for c in nb.cells if grading.is_solution(c) and re.search(
        r"\bdef |FlopCounterMode|measure\.|subprocess", c.source)]
    assert len(exercises) >= 5, f"chapter {chapter}: {len(exercises)} exercises"
    assert explain, f"chapter {chapter}: no explain question (graded by hand)"
    assert coding, (f"chapter {chapter}: no coding task (an answer that defines a function "
                    f"or measures with torch)")
    assert all(v > 0 for v in pts.values())


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_nbgrader_metadata_is_complete_and_consistent(chapter):
    nb = read(NOTEBOOKS[chapter])
    ids = []
    for cell in nb.cells:
        meta = grading.nbgrader_meta(cell)
        assert meta, f"chapter {chapter}: a cell without nbgrader metadata:\n{cell.source[:80]}"
        assert meta["schema_version"] == 3
        assert set(meta) >= {"grade", "grade_id", "locked", "solution", "schema_version"}
        ids.append(meta["grade_id"])
        if meta["grade"]:
            assert meta.get("points", 0) > 0, f"{meta['grade_id']}: graded without points"
        if grading.is_test(cell):
            assert meta["locked"], f"{meta['grade_id']}: a check cell must be locked"
        if grading.is_solution(cell):
            assert not meta["locked"]
            if cell.cell_type == "code":
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
                assert cell.metadata["bigcompute"]["answers"], meta["grade_id"]
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert grading.is_test(cell), f"{meta['grade_id']}: hidden tests outside a check cell"
    assert len(ids) == len(set(ids)), f"chapter {chapter}: duplicate grade_ids"
    assert any("### BEGIN HIDDEN TESTS" in c.source for c in nb.cells)


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_every_check_reads_its_own_answer_and_no_other(chapter):
    """So an unanswered exercise fails its checks, and a wrong answer fails no other
    exercise's: the basis of partial credit."""
    nb = read(NOTEBOOKS[chapter])
    answers = {grading.exercise_of(grading.nbgrader_meta(c)["grade_id"]):
               c.metadata["bigcompute"]["answers"]
               for c in nb.cells if grading.is_solution(c) and c.cell_type == "code"}
    for cell in nb.cells:
        if not (grading.is_test(cell) and cell.cell_type == "code"):
            continue
        ex = grading.exercise_of(grading.nbgrader_meta(cell)["grade_id"])
        # keyword arguments (mfu=0.4) name a parameter, not an answer
        # and comments and strings are not code
        code = re.sub(r"#.*", "", re.sub(r"\b\w+=(?!=)", "", cell.source))
        code = re.sub(r'"[^"\n]*"', '""', code)
        words = set(re.findall(r"\b\w+\b", code))
        assert words & set(answers[ex]), (
            f"chapter {chapter} {grading.nbgrader_meta(cell)['grade_id']} does not use "
            f"{answers[ex]}: an empty answer would pass it")
        others = {name for e, names in answers.items() if e != ex for name in names}
        assert not (words & others - set(answers[ex])), (
            f"chapter {chapter} {grading.nbgrader_meta(cell)['grade_id']} reads another "
            f"exercise's answer {words & others}")


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_exercises_cite_sections_of_their_own_chapter(chapter):
    nb = read(NOTEBOOKS[chapter])
    sections = re.findall(r"\*Section (\d+)\.\d+", "".join(c.source for c in nb.cells))
    assert sections and set(sections) == {str(chapter)}


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_student_version_has_no_solutions_and_no_hidden_tests(chapter):
    nb = read(NOTEBOOKS[chapter])
    student = grading.student_notebook(nb)
    text = nbformat.writes(student)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "Model answer"):
        assert marker not in text
    hidden = secrets(nb)
    assert hidden, "nothing to hide?"
    leaked = [t for t in hidden if t in text]
    assert not leaked, f"chapter {chapter}: solution text in the student version: {leaked}"
    stubs = [c for c in student.cells if grading.is_solution(c)]
    assert all("raise NotImplementedError()" in c.source or c.source == "YOUR ANSWER HERE"
               for c in stubs)
    assert all(not o for c in student.cells if c.cell_type == "code" for o in [c.outputs])


# ------------------------------------------------------------------ release and grade

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Chapter 4 released with nbgrader, and four submissions autograded: the solutions,
    the untouched student version, one wrong answer, one wrong part of an answer."""
    tmp = tmp_path_factory.mktemp("course")
    course_dir = tmp / "course"
    released = grading.release(GRADED_CHAPTER, course_dir, ROOT)
    instructor = read(NOTEBOOKS[GRADED_CHAPTER])

    def answer_cell(nb, exercise):
        return next(c for c in cells_of(nb, exercise) if grading.is_solution(c))

    wrong_answer = read(NOTEBOOKS[GRADED_CHAPTER])  # exercise 4: twice the GPU-days
    answer_cell(wrong_answer, "ex4").source += "\ngpu_days = 2 * gpu_days"
    wrong_part = read(NOTEBOOKS[GRADED_CHAPTER])  # exercise 3 (b) only: ZeRO-3 unsharded
    answer_cell(wrong_part, "ex3").source += "\nzero3_gb_per_device = model_state_gb"
    submissions = tmp / "submissions"
    name = NOTEBOOKS[GRADED_CHAPTER].name
    for student, nb in [("ada", instructor), ("bob", read(released)),
                        ("cy", wrong_answer), ("dee", wrong_part)]:
        (submissions / student).mkdir(parents=True)
        nbformat.write(nb, submissions / student / name)
    report = grading.grade(submissions, course_dir=course_dir, root=ROOT)
    return released, instructor, report


def test_release_writes_a_student_version_without_solutions(graded):
    released, instructor, _ = graded
    assert released.name == f"{GRADED_CHAPTER:02d}_exercises.ipynb"
    assert released.parent.name == grading.assignment_id(GRADED_CHAPTER)
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    leaked = [t for t in secrets(instructor) if t in text]
    assert not leaked, f"solution text in the released notebook: {leaked}"
    assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text


def _points(nb, exercise=None, auto=True):
    return sum(v for k, v in grading.points(nb).items()
               if (exercise is None or grading.exercise_of(k) == exercise)
               and k.endswith("_explain") != auto)


def test_the_solutions_get_full_marks(graded):
    _, instructor, report = graded
    full = _points(instructor)
    ada = next(s for s in report.students if s.student == "ada")
    assert ada.auto_max == full > 0
    assert ada.auto_score == full
    assert ada.manual_max == _points(instructor, auto=False) > 0


def test_the_untouched_student_version_gets_zero(graded):
    _, _, report = graded
    assert report.score("bob") == 0


def test_one_wrong_answer_loses_exactly_that_exercises_points(graded):
    _, instructor, report = graded
    cy = next(s for s in report.students if s.student == "cy")
    assert cy.auto_score == _points(instructor) - _points(instructor, "ex4")
    assert cy.by_exercise["ex4"] == 0


def test_a_wrong_part_loses_only_that_parts_points(graded):
    _, instructor, report = graded
    dee = next(s for s in report.students if s.student == "dee")
    part_b = grading.points(instructor)["ex3_check2"]
    assert dee.auto_score == _points(instructor) - part_b
    assert 0 < dee.by_exercise["ex3"] < _points(instructor, "ex3")


def test_grading_writes_a_csv_and_feedback_with_the_failed_check(graded):
    _, _, report = graded
    rows = report.csv.read_text().splitlines()
    assert rows[0].startswith("student,auto_score,auto_max,by_hand_max,ex1,")
    assert [r.split(",")[0] for r in rows[1:]] == ["ada", "bob", "cy", "dee"]
    assert "by hand" in rows[1]
    for s in report.students:
        assert s.feedback is not None and s.feedback.exists()
    feedback = html.unescape(next(s for s in report.students if s.student == "cy")
                             .feedback.read_text())
    assert "gpu_days: expected" in feedback and "GPU-days" in feedback


# ------------------------------------------------------------------ the site for students

SENTINEL = "zqxsolutionsentinel"


def _mark_solutions(nb) -> nbformat.NotebookNode:
    """Tag every line of every solution and hidden test with a word found nowhere else, so
    that any leak, however rendered or tokenised, shows up in the built files."""
    for cell in nb.cells:
        lines, inside = [], False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and line.strip():
                line += f"  # {SENTINEL}"
            elif (grading.is_solution(cell) and cell.cell_type == "markdown" and line.strip()
                  and not line.startswith(("```", ":"))):
                line += f" {SENTINEL}"
            lines.append(line)
        cell.source = "\n".join(lines)
    return nb


@pytest.mark.site
def test_the_student_site_contains_no_solution_text(tmp_path):
    # a copy of the book whose chapter-4 exercises carry the sentinel, built with a one-page
    # table of contents (the whole book takes minutes; the mechanism is the same)
    book = grading.copy_book(ROOT, tmp_path / "book")
    path = book / NOTEBOOKS[GRADED_CHAPTER].relative_to(ROOT)
    instructor = _mark_solutions(read(path))
    nbformat.write(instructor, path)
    toc = tmp_path / "toc.yml"
    toc.write_text(f"format: jb-book\nroot: {path.relative_to(book).with_suffix('')}\n")

    html_dir = grading.student_site(tmp_path / "site", root=book, toc=toc)

    hidden = secrets(instructor)
    assert any(SENTINEL in t for t in hidden)
    files = [p for p in html_dir.rglob("*") if p.is_file()
             and p.suffix in (".html", ".js", ".ipynb", ".txt", ".json", ".md", ".inv")]
    assert any(p.name == "searchindex.js" for p in files)
    assert any(p.suffix == ".ipynb" and "_sources" in p.parts for p in files)
    for p in files:
        raw = p.read_text(errors="replace")
        assert SENTINEL not in raw, f"solution text in {p.relative_to(html_dir)}"
        text = html.unescape(re.sub(r"<[^>]+>", "", raw)) if p.suffix == ".html" else raw
        leaked = [t for t in hidden if t in text]
        assert not leaked, f"solution text in {p.relative_to(html_dir)}: {leaked[:3]}"
    page = html.unescape(re.sub(r"<[^>]+>", "", (html_dir / path.relative_to(book)
                                                 .with_suffix(".html")).read_text()))
    assert "Exercise 1" in page and "raise NotImplementedError()" in page
    assert "YOUR ANSWER HERE" in page
    shutil.rmtree(tmp_path / "site" / "source")  # the staged copy, no longer needed
