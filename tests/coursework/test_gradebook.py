"""The gradebook export: every student's weighted total over all chapters, from nbgrader's
database or its CSV export, as CSV and in Canvas's and Moodle's import formats.

Three fake students in a gradebook built with nbgrader's own API (no notebook is run):

| student | ch01 (max 10: 8 automatic + 2 by hand) | ch02 (max 20)   |
|---------|----------------------------------------|-----------------|
| ann     | 8 automatic + 2 by hand = 10           | 15              |
| ben     | 4 automatic, by hand not yet graded    | not submitted   |
| cal     | not submitted                          | 20              |

Totals worked out by hand: equal weights, the mean of the two percentages: ann
(100 + 75) / 2 = 87.5, ben (40 + 0) / 2 = 20, cal (0 + 100) / 2 = 50. With ch02 weighing
3: ann (1 x 100 + 3 x 75) / 4 = 81.25, ben 40 / 4 = 10, cal 300 / 4 = 75.
"""

from __future__ import annotations

import csv
import warnings

import pytest

from bigcompute.coursework import gradebook, grading

EQUAL = {"ann": 87.5, "ben": 20.0, "cal": 50.0}
CH02_TRIPLE = {"ann": 81.25, "ben": 10.0, "cal": 75.0}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    nbgrader_api = pytest.importorskip("nbgrader.api")
    folder = tmp_path_factory.mktemp("gradebook")
    db = folder / "gradebook.db"
    gradebook.nbgrader_tools_on_path()
    with warnings.catch_warnings(), nbgrader_api.Gradebook(f"sqlite:///{db}") as gb:
        warnings.simplefilter("ignore")
        for student, first, last in [("ann", "Ann", "Lee"), ("ben", "Ben", "Wu"),
                                     ("cal", "Cal", "Ito")]:
            gb.add_student(student, first_name=first, last_name=last,
                           email=f"{student}@example.edu")
        gb.add_assignment("ch01")
        gb.add_notebook("01_exercises", "ch01")
        gb.add_grade_cell("ex1_check1", "01_exercises", "ch01", max_score=8, cell_type="code")
        gb.add_grade_cell("ex2_explain", "01_exercises", "ch01", max_score=2,
                          cell_type="markdown")
        gb.add_assignment("ch02")
        gb.add_notebook("02_exercises", "ch02")
        gb.add_grade_cell("ex1_check1", "02_exercises", "ch02", max_score=20,
                          cell_type="code")

        def grade(assignment, notebook, student, cell, auto=None, manual=None):
            g = gb.find_grade(cell, notebook, assignment, student)
            g.auto_score, g.manual_score = auto, manual
            gb.db.commit()

        gb.add_submission("ch01", "ann")
        grade("ch01", "01_exercises", "ann", "ex1_check1", auto=8)
        grade("ch01", "01_exercises", "ann", "ex2_explain", manual=2)
        gb.add_submission("ch02", "ann")
        grade("ch02", "02_exercises", "ann", "ex1_check1", auto=15)
        gb.add_submission("ch01", "ben")
        grade("ch01", "01_exercises", "ben", "ex1_check1", auto=4)
        gb.add_submission("ch02", "cal")
        grade("ch02", "02_exercises", "cal", "ex1_check1", auto=20)
        export_csv = folder / "grades.csv"
        from nbgrader.plugins import CsvExportPlugin
        CsvExportPlugin(to=str(export_csv)).export(gb)
    return folder, db, export_csv


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_totals_from_the_database_match_the_hand_computed_ones(course):
    _, db, _ = course
    totals = gradebook.weighted_totals(gradebook.read_gradebook_db(db))
    assert {t.student: t.total_percent for t in totals} == pytest.approx(EQUAL)
    ann = totals[0]
    assert ann.scores == {"ch01": (10.0, 10.0), "ch02": (15.0, 20.0)}
    assert (ann.first_name, ann.last_name, ann.email) == ("Ann", "Lee", "ann@example.edu")


def test_weights_change_the_totals_as_computed_by_hand(course):
    _, db, _ = course
    totals = gradebook.weighted_totals(gradebook.read_gradebook_db(db), {"ch02": 3})
    assert {t.student: t.total_percent for t in totals} == pytest.approx(CH02_TRIPLE)


def test_nbgrader_exports_csv_gives_the_same_totals(course):
    _, _, export_csv = course
    from_csv = gradebook.weighted_totals(gradebook.read_nbgrader_csv(export_csv))
    assert {t.student: t.total_percent for t in from_csv} == pytest.approx(EQUAL)


def test_the_command_writes_csv_canvas_and_moodle_files(course, tmp_path, capsys):
    folder, _, _ = course
    assert grading.main(["gradebook", "--course-dir", str(folder), "--weights", "ch02=3",
                         "--out", str(tmp_path)]) == 0
    plain = _rows(tmp_path / "totals.csv")
    assert plain[0] == ["student_id", "last_name", "first_name", "email",
                        "ch01_score", "ch01_max", "ch01_percent",
                        "ch02_score", "ch02_max", "ch02_percent", "total_percent"]
    assert plain[1] == ["ann", "Lee", "Ann", "ann@example.edu", "10", "10", "100.00",
                        "15", "20", "75.00", "81.25"]
    assert plain[2] == ["ben", "Wu", "Ben", "ben@example.edu", "4", "10", "40.00",
                        "0", "20", "0.00", "10.00"]
    assert [r[-1] for r in plain[1:]] == ["81.25", "10.00", "75.00"]

    canvas = _rows(tmp_path / "totals-canvas.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                         gradebook.DEFAULT_COLUMN]
    assert canvas[1] == ["Points Possible", "", "", "", "", "100"]
    assert canvas[2] == ["Lee, Ann", "", "ann", "ann", "", "81.25"]
    assert [r[-1] for r in canvas[2:]] == ["81.25", "10.00", "75.00"]

    moodle = _rows(tmp_path / "totals-moodle.csv")
    assert moodle[0] == ["Username", "Email address", "First name", "Last name",
                         gradebook.DEFAULT_COLUMN]
    assert moodle[3] == ["cal", "cal@example.edu", "Cal", "Ito", "75.00"]
    assert "totals-canvas.csv" in capsys.readouterr().out


@pytest.mark.parametrize("call, word", [
    (lambda: gradebook.parse_weights("ch01"), "weights='ch01'"),
    (lambda: gradebook.parse_weights("ch01=-1"), "weights='ch01=-1'"),
    (lambda: gradebook.weighted_totals([]), r"rows=\[\]"),
    (lambda: gradebook.weighted_totals(
        [gradebook.ChapterScore("a", "ch01", 1, 2)], {"ch09": 1}), "ch09 is not an assignment"),
    (lambda: gradebook.weighted_totals(
        [gradebook.ChapterScore("a", "ch01", 1, 2)], {"ch01": 0}), "positive weight"),
    (lambda: gradebook.write_totals([], "x.csv", "excel"), "fmt='excel'"),
    (lambda: gradebook.read_gradebook_db("/nonexistent/gradebook.db"), "path="),
])
def test_bad_input_is_a_value_error_naming_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()
