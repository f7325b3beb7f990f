"""Every check cell of every exercises notebook stands alone, and grades as nbgrader expects.

- A check cell reads only names it defines itself or that cells every student runs define
  (set-up and input cells, the visible lines of answer cells, the answers themselves): never
  a name defined only in another check cell (its hidden region above all) or only inside a
  solution region. Otherwise a student who fails one part loses the next too (issue 23:
  chapter 7's exercise 2 read ``by_op`` from part 1's hidden tests).
- A cell that grades in bands (`check_answer`) ends with that expression, whose value
  nbgrader takes as the cell's score, and its ``points=`` are the cell's points.
- An exercise with per-student inputs has a cell that prints them, and its prompt says so.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import nbformat
import pytest

from bigcompute.coursework import grading, variants

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = grading.exercise_notebooks(ROOT)
BUILTINS = set(dir(builtins)) | {"get_ipython", "__name__", "__file__"}


def _code(source: str) -> str:
    """A cell's source as Python: IPython magics and shell lines become ``pass``."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                     if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def bound_and_read(source: str) -> tuple[set[str], set[str]]:
    """(names a piece of code binds anywhere, names it reads that it does not bind)."""
    tree = ast.parse(_code(source))
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, read - bound


def shared_names(nb) -> set[str]:
    """What every student's kernel defines before a check cell runs, whatever they answer:
    the names bound by non-graded code cells, by the visible lines of answer cells, and the
    answers each answer cell must define."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or grading.is_test(cell):
            continue
        if grading.is_solution(cell):
            names |= bound_and_read("\n".join(grading.split_hidden(cell)[1]))[0]
            names |= set(cell.metadata["bigcompute"]["answers"])
        else:
            names |= bound_and_read(cell.source)[0]
    return names


def coupling_errors(nb) -> list[str]:
    shared = shared_names(nb)
    errors = []
    for cell in nb.cells:
        if not (grading.is_test(cell) and cell.cell_type == "code"):
            continue
        _, reads = bound_and_read(cell.source)
        foreign = reads - shared - BUILTINS
        if foreign:
            errors.append(f"{grading.nbgrader_meta(cell)['grade_id']} reads {sorted(foreign)},"
                          f" defined only in another check cell or a solution region")
    return errors


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_every_check_cell_stands_alone(chapter):
    errors = coupling_errors(nbformat.read(NOTEBOOKS[chapter], as_version=4))
    assert not errors, f"chapter {chapter}: " + "; ".join(errors)


def test_the_standalone_test_catches_a_name_from_another_parts_hidden_tests():
    """The bug of issue 23 in miniature: part 2's hidden tests read part 1's ``by_op``."""
    nb = nbformat.v4.new_notebook()

    def cell(source, grade_id, **meta):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "locked": True,
                                  "grade": False, "solution": False, **meta}
        return c

    answer = cell("### BEGIN SOLUTION\nby_op = {}\ntop = 1\n### END SOLUTION", "ex2_answer",
                  solution=True, locked=False)
    answer.metadata["bigcompute"] = {"answers": ["top"]}
    part1 = cell("check(top)\n### BEGIN HIDDEN TESTS\nby_op = count()\n### END HIDDEN TESTS",
                 "ex2_check1", grade=True, points=1)
    part2 = cell("### BEGIN HIDDEN TESTS\ncheck(top, max(by_op))\n### END HIDDEN TESTS",
                 "ex2_check2", grade=True, points=1)
    nb.cells = [cell("def check(*a): pass\ndef count(): return {}", "setup"), answer,
                part1, part2]
    errors = coupling_errors(nb)
    assert len(errors) == 1 and "ex2_check2" in errors[0] and "by_op" in errors[0]


# ------------------------------------------------------------------ banded checks

def _calls(node, name):
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == name]


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_a_banded_check_is_its_cells_last_expression_with_the_cells_points(chapter):
    """nbgrader scores a check cell by its last output: a number is the points earned."""
    nb = nbformat.read(NOTEBOOKS[chapter], as_version=4)
    for cell in nb.cells:
        if not (grading.is_test(cell) and cell.cell_type == "code"):
            continue
        grade_id = grading.nbgrader_meta(cell)["grade_id"]
        tree = ast.parse(_code(cell.source))
        calls = _calls(tree, "check_answer")
        if not calls:
            continue
        last = tree.body[-1]
        assert isinstance(last, ast.Expr), f"{grade_id}: ends with a statement, not its score"
        assert len(_calls(last, "check_answer")) == len(calls), (
            f"{grade_id}: a check_answer that is not the cell's last expression")
        points = grading.nbgrader_meta(cell)["points"]
        for call in calls:
            given = next(k.value for k in call.keywords if k.arg == "points")
            assert isinstance(given, ast.Constant) and given.value == points, (
                f"{grade_id}: check_answer(points=...) must be the cell's {points} points")


# ------------------------------------------------------------------ per-student inputs

@pytest.mark.parametrize("chapter", sorted(variants.INPUTS))
def test_exercises_with_inputs_print_them_and_say_so(chapter):
    nb = nbformat.read(NOTEBOOKS[chapter], as_version=4)
    ids = [grading.nbgrader_meta(c).get("grade_id") for c in nb.cells]
    assert "student_id" in ids and ids.index("student_id") < ids.index("setup")
    student = nb.cells[ids.index("student_id")]
    assert not grading.nbgrader_meta(student)["locked"] and "STUDENT_ID = None" in student.source
    assert f"variants.chapter_variant({chapter}, STUDENT_ID)" in nb.cells[ids.index("setup")].source
    for exercise in variants.INPUTS[chapter]:
        prompt = nb.cells[ids.index(f"{exercise}_prompt")]
        assert "your numbers" in prompt.source, f"{exercise}: the prompt does not say so"
        shown = nb.cells[ids.index(f"{exercise}_inputs")]
        assert f"variant.{exercise}.show()" in shown.source
        assert ids.index(f"{exercise}_inputs") == ids.index(f"{exercise}_prompt") + 1
        hidden = "\n".join(line for c in nb.cells
                           if grading.nbgrader_meta(c).get("grade_id", "").startswith(
                               f"{exercise}_check")
                           for line in grading.split_hidden(c)[0])
        assert re.search(rf'variants\.draw\({chapter}, "{exercise}"', hidden), (
            f"{exercise}: the hidden tests do not recompute the student's inputs")
