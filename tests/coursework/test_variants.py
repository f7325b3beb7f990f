"""Per-student numbers: stable, different between students, meaningful, default without
an id, and the student id found the way the instructor guide says."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import pytest

from bigcompute import catalog, counts, hardware, memory, timing
from bigcompute.coursework import variants


def test_without_an_id_every_exercise_gets_the_books_default_numbers():
    v = variants.chapter_variant(4, environ={})
    assert v.student_id is None
    # the numbers chapter 4's exercises had before they were drawn per student
    assert dict(v.ex4) == {"model": "llama2-7b", "tokens": 2e12, "device": "a100-80gb",
                           "mfu": 0.4}
    assert dict(v.ex5) == {"gpu_hours": 100_000, "watts": 400, "pue": 1.1,
                           "grid_kg_per_kwh": 0.4, "price_per_gpu_hour": 2.0}
    assert v.ex1.model == "llama2-7b" and v.ex2.seq == 32768 and v.ex3.dp == 8


def test_two_students_differ_in_every_exercise_with_inputs():
    for chapter, exercises in variants.exercises_with_inputs().items():
        for exercise in exercises:
            ada, bob = (variants.draw(chapter, exercise, s) for s in ("ada", "bob"))
            assert dict(ada) != dict(bob), (chapter, exercise)


def test_draws_are_stable_case_blind_and_independent_of_python():
    # pinned: a change here re-draws every student's numbers mid-course
    assert dict(variants.draw(4, "ex4", "alice")) == dict(variants.draw(4, "ex4", " Alice "))
    code = ("from bigcompute.coursework import variants as v; "
            "print(dict(v.draw(4, 'ex4', 'alice')))")
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"}).stdout.strip()
    assert again == str(dict(variants.draw(4, "ex4", "alice")))


def test_options_spread_over_many_students():
    for chapter, spec in variants.INPUTS.items():
        for exercise, choices in spec.items():
            for choice in choices:
                seen = {variants.option_index(f"s{i}", chapter, exercise, choice)
                        for i in range(200)}
                assert seen == set(range(len(choice.options))), (exercise, choice.names)


def test_every_drawn_design_problem_has_an_answer():
    """Chapter 4's exercise 8: some ZeRO stage fits in every combination of its options."""
    options = [c.options for c in variants.INPUTS[4]["ex8"]]
    for model, tokens, days, device, mfu, _price in itertools.product(*options):
        n = counts.param_count(catalog.model(model))
        seconds = timing.training_time(6 * n * tokens, device, n_devices=1, mfu=mfu)
        gpus = 8 * math.ceil(seconds / (days * 86400) / 8)
        half = hardware.device(device).memory_bytes / 2
        assert memory.zero_memory_per_device(n, dp=gpus, stage=3) <= half, (model, device)


def test_the_student_id_comes_from_the_autograde_folder_first(tmp_path):
    folder = tmp_path / "autograded" / "Ada" / "ch04"
    folder.mkdir(parents=True)
    grading_env = {"NBGRADER_EXECUTION": "autograde", "JUPYTERHUB_USER": "instructor",
                   variants.STUDENT_ID_ENV: "someone"}
    assert variants.student_id("bob", environ=grading_env, cwd=folder) == "ada"
    assert variants.student_id("bob", environ={variants.STUDENT_ID_ENV: "cy"}) == "bob"
    assert variants.student_id(None, environ={variants.STUDENT_ID_ENV: "cy",
                                              "JUPYTERHUB_USER": "dee"}) == "cy"
    assert variants.student_id(None, environ={"JUPYTERHUB_USER": "dee"}) == "dee"
    assert variants.student_id("  ", environ={}) is None


def test_a_typed_id_that_is_not_the_graded_one_is_reported(tmp_path, capsys):
    folder = tmp_path / "autograded" / "ada" / "ch04"
    folder.mkdir(parents=True)
    v = variants.chapter_variant(4, "bob", environ={"NBGRADER_EXECUTION": "autograde"},
                                 cwd=folder)
    assert v.student_id == "ada"
    assert "STUDENT_ID = 'bob' but is graded as 'ada'" in capsys.readouterr().out


def test_inputs_show_the_students_numbers(capsys):
    variants.draw(4, "ex4", "ada").show()
    out = capsys.readouterr().out
    assert out.startswith("Your numbers for exercise 4 (student 'ada'):")
    assert "  model = '" in out and "  mfu = " in out


@pytest.mark.parametrize("call, word", [
    (lambda: variants.draw(9, "ex1"), "chapter=9"),
    (lambda: variants.draw(4, "ex99"), "exercise='ex99'"),
    (lambda: variants.chapter_variant("4"), "chapter='4'"),
    (lambda: variants.normalise_student_id(42), "student_id=42"),
    (lambda: variants.normalise_student_id("a/b"), "student_id='a/b'"),
    (lambda: variants.Choice("x", (1,)), "options=(1,)"),
    (lambda: variants.Choice("not a name", (1, 2)), "names='not a name'"),
    (lambda: variants.Choice(("a", "b"), (1, 2)), "options=(1, 2)"),
])
def test_bad_input_is_a_value_error_naming_the_parameter(call, word):
    with pytest.raises(ValueError, match=word.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_the_variants_do_not_import_torch_or_numpy():
    code = ("import sys, bigcompute.coursework.variants; "
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
