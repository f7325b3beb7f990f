"""Coursework: the exercises notebooks, their student versions, autograding, the student site.

The instructor version of every exercises notebook runs under nbval with the other notebooks
(every solution passes its checks). Here: the markup is sound; nbgrader's student version
holds no solution and no hidden test; autograding gives full marks to the solutions, zero to
the untouched student version, and takes away exactly the points of a wrong answer; and the
website built for students carries no solution text anywhere (pages, search index, sources).
"""

from __future__ import annotations

import copy
import html
import math
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from bigcompute import catalog, counts, energy, hardware, memory, scaling, timing
from bigcompute.coursework import grading, variants
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

def test_check_close_names_the_band_and_never_the_expected_value():
    with pytest.raises(AssertionError) as failed:
        check_close("gpu_days", 1.0e4, 1.2e4, rel=0.01, unit="GPU-days")
    assert str(failed.value) == "gpu_days: 10,000 GPU-days is outside the 1% band"
    for revealing in ("12,000", "1.2e", "17%", "expected"):
        assert revealing not in str(failed.value)
    check_close("gpu_days", 1.2e4 * 1.009, 1.2e4, rel=0.01, unit="GPU-days")


def test_check_close_does_not_give_away_an_order_of_magnitude():
    with pytest.raises(AssertionError) as failed:
        check_close("flops", 3.14e26, 3.14e23, rel=0.01, unit="FLOP")
    assert "1,000x" not in str(failed.value) and "3.14e+23" not in str(failed.value)


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
    with pytest.raises(AssertionError, match="^n: 610,001 FLOP is not the exact count$"):
        check_equal("n", 610_001, 610_000, unit="FLOP")
    with pytest.raises(AssertionError, match="^bound: 'memory' is not the right answer$"):
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
        code = re.sub(r"\.\w+", ".", code)  # attributes (inputs.n_gpus) are not names
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

def library_answers(student: str) -> dict[str, float]:
    """Chapter 4's answers for ``student``'s own numbers, computed here with the library
    (independently of the notebook's solutions): what a correct student submits."""
    v = variants.chapter_variant(4, environ={variants.STUDENT_ID_ENV: student})
    assert v.student_id == student
    answers: dict[str, float] = {}
    n = counts.param_count(catalog.model(v.ex1.model))
    answers["llama_params"] = n
    cfg, seq = catalog.model(v.ex2.model), v.ex2.seq
    answers["long_context_ratio"] = (counts.flops(cfg, 1, seq, pass_="train")
                                     / counts.flops_6nd(counts.param_count(cfg), seq))
    n = counts.param_count(catalog.model(v.ex3.model))
    answers["model_state_gb"] = 16 * n / 1e9
    answers["zero3_gb_per_device"] = memory.zero_memory_per_device(n, v.ex3.dp, 3) / 1e9
    e = v.ex4
    flops = counts.flops_6nd(counts.param_count(catalog.model(e.model)), e.tokens)
    answers["gpu_days"] = timing.training_time(flops, e.device, 1, e.mfu) / 86400
    e = v.ex5
    kwh = energy.energy_kwh(e.gpu_hours, e.watts, e.pue)
    answers["energy_mwh"] = kwh / 1000
    answers["co2_tonnes"] = energy.co2_tonnes(kwh, e.grid_kg_per_kwh)
    answers["cost_usd"] = energy.cost_dollars(e.gpu_hours, e.price_per_gpu_hour)
    e = v.ex6
    budget = e.n_gpus * e.days * 86400 * hardware.device(e.device).peak_flops("bf16") * e.mfu
    answers["budget_flops"] = budget
    answers["n_params_opt"], answers["tokens_opt"] = scaling.chinchilla_optimal(budget)
    answers["state_gb_per_gpu"] = memory.zero_memory_per_device(
        answers["n_params_opt"], e.n_gpus, 3) / 1e9
    answers["booking_usd"] = e.n_gpus * e.days * 24 * e.price_per_gpu_hour
    e = v.ex8
    n = counts.param_count(catalog.model(e.model))
    answers["train_flops"] = 6 * n * e.tokens
    gpu_seconds = timing.training_time(answers["train_flops"], e.device, 1, e.mfu)
    answers["n_gpus"] = 8 * math.ceil(gpu_seconds / (e.days * 86400) / 8)
    half = hardware.device(e.device).memory_bytes / 2
    answers["zero_stage"] = min(s for s in range(4) if memory.zero_memory_per_device(
        n, answers["n_gpus"], s) <= half)
    answers["run_usd"] = gpu_seconds / 3600 * e.price_per_gpu_hour
    return answers


EXACT_ANSWERS = {"llama_params", "n_gpus", "zero_stage"}  # counts: no band


def submit_numbers(nb, numbers: dict[str, float]) -> nbformat.NotebookNode:
    """``nb`` with every answer cell that defines only numbers replaced by literal
    assignments (as a student who computed them elsewhere would write them); answer cells
    that define a function keep their code."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if not (grading.is_solution(cell) and cell.cell_type == "code"):
            continue
        names = cell.metadata["bigcompute"]["answers"]
        if all(name in numbers for name in names):
            cell.source = "\n".join(f"{name} = {numbers[name]!r}" for name in names)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Chapter 4 released with nbgrader, and six submissions autograded: the solutions
    (ada), the untouched student version (bob), one wrong answer (cy), one wrong part of an
    answer (dee), eve's own numbers computed with the library and typed in as numbers, and
    fay's typed in 0.5% off by hand, with one GiB-for-GB slip and one answer 5% off."""
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
    eve = library_answers("eve")
    fay = {k: v if k in EXACT_ANSWERS else v * 1.005 for k, v in library_answers("fay").items()}
    fay["model_state_gb"] = library_answers("fay")["model_state_gb"] * 1e9 / 2**30  # GiB
    fay["gpu_days"] = library_answers("fay")["gpu_days"] * 1.05  # the partial band
    submissions = tmp / "submissions"
    name = NOTEBOOKS[GRADED_CHAPTER].name
    for student, nb in [("ada", instructor), ("bob", read(released)),
                        ("cy", wrong_answer), ("dee", wrong_part),
                        ("eve", submit_numbers(instructor, eve)),
                        ("fay", submit_numbers(instructor, fay))]:
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


def _student(report, name):
    return next(s for s in report.students if s.student == name)


def _autograded(report, student) -> nbformat.NotebookNode:
    course_dir = report.csv.parent
    return read(course_dir / "autograded" / student / grading.assignment_id(GRADED_CHAPTER)
                / NOTEBOOKS[GRADED_CHAPTER].name)


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_the_solutions_get_full_marks(graded):
    _, instructor, report = graded
    full = _points(instructor)
    ada = _student(report, "ada")
    assert ada.auto_max == full > 0
    assert ada.auto_score == full
    assert ada.manual_max == _points(instructor, auto=False) > 0


def test_two_students_get_different_numbers_in_every_exercise_with_inputs(graded):
    """The released notebook is the same for all; each runs on its student's numbers."""
    _, _, report = graded
    shown = {}
    for student in ("ada", "bob"):
        nb = _autograded(report, student)
        shown[student] = {grading.nbgrader_meta(c)["grade_id"]: _stdout(c) for c in nb.cells
                          if grading.nbgrader_meta(c).get("grade_id", "").endswith("_inputs")}
    assert set(shown["ada"]) == {f"{ex}_inputs" for ex in variants.INPUTS[GRADED_CHAPTER]}
    for cell_id, text in shown["ada"].items():
        assert "student 'ada'" in text and "student 'bob'" in shown["bob"][cell_id]
        numbers = [line for line in text.splitlines()[1:]]
        assert numbers and numbers != shown["bob"][cell_id].splitlines()[1:], cell_id


def test_correct_numbers_typed_in_get_full_marks(graded):
    _, instructor, report = graded
    assert _student(report, "eve").auto_score == _points(instructor)


def test_a_slip_and_a_partial_answer_get_their_configured_credit(graded):
    """fay: everything 0.5% off (full marks), the model states in GiB (the slip's 0.5 of 1
    point) and the GPU-days 5% off (the 10% band's 0.5 of 1 point)."""
    _, instructor, report = graded
    fay = _student(report, "fay")
    assert fay.auto_score == _points(instructor) - 0.5 - 0.5
    assert fay.by_exercise["ex3"] == _points(instructor, "ex3") - 0.5
    assert fay.by_exercise["ex4"] == _points(instructor, "ex4") - 0.5
    feedback = html.unescape(fay.feedback.read_text())
    assert ("model_state_gb: the answer is in GiB (2^30 bytes) where GB (10^9 bytes) were "
            "asked: 0.5 points of 1") in feedback
    assert ("gpu_days: within the 10% band but outside the 1% band: partial credit, "
            "0.5 points of 1") in feedback


def test_the_untouched_student_version_gets_zero(graded):
    _, _, report = graded
    assert report.score("bob") == 0


def test_one_wrong_answer_loses_exactly_that_exercises_points(graded):
    _, instructor, report = graded
    cy = _student(report, "cy")
    assert cy.auto_score == _points(instructor) - _points(instructor, "ex4")
    assert cy.by_exercise["ex4"] == 0


def test_a_wrong_part_loses_only_that_parts_points(graded):
    _, instructor, report = graded
    dee = _student(report, "dee")
    part_b = grading.points(instructor)["ex3_check2"]
    assert dee.auto_score == _points(instructor) - part_b
    assert 0 < dee.by_exercise["ex3"] < _points(instructor, "ex3")


def _renderings(value: float) -> set[str]:
    """The ways a check could print ``value``."""
    forms = {repr(float(value)), f"{value:.4g}", f"{value:.6g}", f"{value:.3e}"}
    if abs(value) >= 1000:
        forms |= {f"{value:,.0f}", f"{value:.0f}"}
    return {f for f in forms if len(f.replace(",", "").replace(".", "")) >= 4}


def test_no_feedback_contains_an_expected_value(graded):
    """Neither the checks' messages nor the feedback pages give an expected value; the
    pages leave out the hidden tests (their code shows how the values are made)."""
    _, instructor, report = graded
    solutions = "\n".join(line for c in instructor.cells if grading.is_solution(c)
                          for line in grading.split_hidden(c)[0])
    hidden = [line for line in secrets(instructor) if line not in solutions
              and any(line in c.source for c in instructor.cells if grading.is_test(c))]
    assert hidden
    for s in report.students:
        expected = {k: v for k, v in library_answers(s.student).items()
                    if k not in EXACT_ANSWERS or v >= 1000}
        nb = _autograded(report, s.student)
        messages = "\n".join(
            _stdout(c) + "".join(o.get("evalue", "") for o in c.outputs)
            for c in nb.cells if grading.is_test(c))
        page = html.unescape(re.sub(r"<[^>]+>", "", s.feedback.read_text()))
        assert "BEGIN HIDDEN TESTS" not in page
        assert not [t for t in hidden if t in page], f"{s.student}: hidden tests in feedback"
        for name, value in expected.items():
            # what the checks said about this answer (a wrong answer may well equal the
            # expected value of another: that is the student's own number)
            said = "\n".join(line for line in messages.splitlines()
                             if line.startswith(f"{name}:"))
            leaks = [f for f in _renderings(value) if f in said]
            assert not leaks, f"{s.student}: the expected {name} in the checks' output: {leaks}"
        # the answers these students got wrong: their exact values appear nowhere on the page
        for name in {"cy": ["gpu_days"], "dee": ["zero3_gb_per_device"],
                     "fay": ["model_state_gb", "gpu_days"]}.get(s.student, []):
            leaks = [f for f in _renderings(expected[name]) if len(f) >= 6 and f in page]
            assert not leaks, f"{s.student}: the expected {name} in the feedback page: {leaks}"


def test_grading_writes_a_csv_and_feedback_with_the_failed_check(graded):
    _, _, report = graded
    rows = report.csv.read_text().splitlines()
    assert rows[0].startswith("student,auto_score,auto_max,by_hand_max,ex1,")
    assert [r.split(",")[0] for r in rows[1:]] == ["ada", "bob", "cy", "dee", "eve", "fay"]
    assert "by hand" in rows[1]
    for s in report.students:
        assert s.feedback is not None and s.feedback.exists()
    feedback = html.unescape(_student(report, "cy").feedback.read_text())
    assert "gpu_days: " in feedback and "GPU-days is outside the 10% band: no credit" in feedback


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
