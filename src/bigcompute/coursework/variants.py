"""Per-student numbers for the exercises: each student's inputs (model, device, sizes,
budgets) drawn from a seed derived from their student id.

The notebook a student gets is the same for everyone (nbgrader releases one copy), so the
numbers are drawn when the notebook runs, from the student id that `student_id` finds:

1. under nbgrader's autograde (``NBGRADER_EXECUTION=autograde``, which nbgrader sets while
   it executes a submission), the folder the notebook runs in:
   ``autograded/<student_id>/<assignment>/`` (nbgrader's default directory structure).
   This is authoritative: a student cannot be graded on someone else's numbers;
2. the id the student typed into the notebook's ``STUDENT_ID`` cell;
3. the environment variable ``BIGCOMPUTE_STUDENT_ID`` (tests, or a hub that sets it);
4. ``JUPYTERHUB_USER``: on the course's JupyterHub, the student's own server;
5. none of these (the public book, the instructor's copy): the *default variant*, whose
   numbers are the first option of every choice and whose worked solution the book shows.

Each input is drawn on its own, from the SHA-256 of ``"<student>/chNN/exN/<name>"``: the
same id gives the same numbers on every machine and Python version, and adding an exercise
does not change the numbers of the others. The options of each input are listed here, all
chosen so that the problem stays meaningful (a model that fits the cluster, a budget that
buys a sensible model). Only the inputs are public: the expected answers are computed by the
hidden tests of the instructor's notebooks, with the library, from the same inputs.

Pure Python: no torch, no numpy.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HUB_USER_ENV",
    "INPUTS",
    "NBGRADER_EXECUTION_ENV",
    "STUDENT_ID_ENV",
    "ChapterVariant",
    "Choice",
    "Inputs",
    "chapter_variant",
    "draw",
    "exercises_with_inputs",
    "normalise_student_id",
    "option_index",
    "student_id",
]

STUDENT_ID_ENV = "BIGCOMPUTE_STUDENT_ID"
HUB_USER_ENV = "JUPYTERHUB_USER"
NBGRADER_EXECUTION_ENV = "NBGRADER_EXECUTION"
_SALT = "bigcompute-coursework-v1"  # change to re-draw every student's numbers


@dataclass(frozen=True)
class Choice:
    """One input of an exercise and its options; the first option is the default variant's.
    ``names`` may be several inputs drawn together (a model and a GPU count that fit), and
    then every option is a tuple with one value per name."""

    names: tuple[str, ...]
    options: tuple
    label: str = ""

    def __post_init__(self):
        names = (self.names,) if isinstance(self.names, str) else tuple(self.names)
        if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise ValueError(f"names={self.names!r} is not allowed: expected one or more "
                             f"Python identifiers")
        object.__setattr__(self, "names", names)
        options = tuple(self.options)
        if len(options) < 2 or len(set(options)) != len(options):
            raise ValueError(f"options={self.options!r} is not allowed: expected at least two "
                             f"different options")
        if len(names) > 1 and not all(isinstance(o, tuple) and len(o) == len(names)
                                      for o in options):
            raise ValueError(f"options={self.options!r} is not allowed: expected tuples of "
                             f"{len(names)} values, one for each of {names}")
        object.__setattr__(self, "options", options)

    def values(self, index: int) -> dict:
        option = self.options[index]
        return dict(zip(self.names, option if len(self.names) > 1 else (option,)))


def _fmt_value(value) -> str:
    if isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    return f"{value:g}"


class Inputs(Mapping):
    """The inputs of one exercise for one student: ``inputs.model``, ``inputs["model"]``."""

    def __init__(self, chapter: int, exercise: str, student: str | None, values: dict):
        self._values = dict(values)
        self.chapter, self.exercise, self.student = chapter, exercise, student

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"exercise {self.exercise} has no input {name!r}; it has "
                                 f"{', '.join(self.__dict__['_values'])}") from None

    def __repr__(self):
        return f"Inputs({self.exercise}: {self.describe()})"

    def describe(self) -> str:
        return ", ".join(f"{k} = {_fmt_value(v)}" for k, v in self._values.items())

    def show(self) -> None:
        """Print the student's numbers, for the cell under the exercise's prompt."""
        who = f"student {self.student!r}" if self.student else "the book's default variant"
        print(f"Your numbers for exercise {self.exercise[2:]} ({who}):")
        for k, v in self._values.items():
            print(f"  {k} = {_fmt_value(v)}")


class ChapterVariant:
    """Every exercise's inputs for one student in one chapter: ``variant.ex4.model``."""

    def __init__(self, chapter: int, student: str | None):
        self.chapter, self.student_id = chapter, student
        self._inputs = {ex: draw(chapter, ex, student) for ex in INPUTS.get(chapter, {})}

    def __getattr__(self, exercise):
        inputs = self.__dict__.get("_inputs", {})
        if exercise in inputs:
            return inputs[exercise]
        raise AttributeError(f"chapter {self.__dict__.get('chapter')} has no inputs for "
                             f"{exercise!r}; exercises with inputs: {', '.join(inputs)}")

    @property
    def exercises(self) -> dict[str, Inputs]:
        return dict(self._inputs)

    def __repr__(self):
        return f"ChapterVariant(chapter={self.chapter}, student_id={self.student_id!r})"


# ------------------------------------------------------------------ the options

_TRAIN_MODELS = ("llama2-7b", "llama2-13b", "mistral-7b", "llama3-8b")
INPUTS: dict[int, dict[str, tuple[Choice, ...]]] = {
    4: {
        # untied embeddings, multi-head attention, gated MLP: the formula of the prompt
        "ex1": (Choice("model", ("llama2-7b", "llama2-13b", "llama-33b", "llama-65b")),),
        "ex2": (Choice("model", _TRAIN_MODELS),
                Choice("seq", (32768, 16384, 65536, 8192))),
        "ex3": (Choice("model", ("llama2-7b", "llama2-13b", "mistral-7b", "llama-33b")),
                Choice("dp", (8, 16, 32, 64))),
        "ex4": (Choice("model", _TRAIN_MODELS),
                Choice("tokens", (2e12, 1e12, 1.5e12, 3e12)),
                Choice("device", ("a100-80gb", "h100-sxm", "a100-40gb", "h200")),
                Choice("mfu", (0.4, 0.35, 0.45, 0.5))),
        "ex5": (Choice("gpu_hours", (100_000, 50_000, 250_000, 80_000)),
                Choice("watts", (400, 700, 300, 500)),
                Choice("pue", (1.1, 1.2, 1.3, 1.05)),
                Choice("grid_kg_per_kwh", (0.4, 0.2, 0.5, 0.3)),
                Choice("price_per_gpu_hour", (2.0, 2.5, 3.0, 1.8))),
        # design problem: a cluster booked for some days
        "ex6": (Choice("n_gpus", (1024, 2048, 512, 4096)),
                Choice("device", ("h100-sxm", "a100-80gb", "h200", "b200")),
                Choice("days", (30, 14, 60, 21)),
                Choice("mfu", (0.4, 0.35, 0.45, 0.3)),
                Choice("price_per_gpu_hour", (2.5, 2.0, 3.0, 4.0))),
        # design problem: a deadline, whole nodes of 8 GPUs, the ZeRO stage that fits
        "ex8": (Choice("model", ("llama2-13b", "llama2-7b", "mistral-7b", "llama-33b")),
                Choice("tokens", (1e12, 5e11, 2e12, 3e11)),
                Choice("days", (30, 20, 45, 14)),
                Choice("device", ("h100-sxm", "a100-80gb", "h200", "a100-40gb")),
                Choice("mfu", (0.4, 0.45, 0.35, 0.5)),
                Choice("price_per_gpu_hour", (2.5, 3.0, 2.0, 4.0))),
    },
    7: {
        # GPT-2's learned positions stop at 1,024 tokens
        "ex2": (Choice("model", ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl")),
                Choice("seq", (1024, 512, 256, 768))),
    },
}


def exercises_with_inputs() -> dict[int, list[str]]:
    """Chapter -> the exercises whose inputs are drawn per student."""
    return {ch: list(spec) for ch, spec in INPUTS.items()}


# ------------------------------------------------------------------ the student id

def normalise_student_id(value) -> str | None:
    """An id as the seed uses it: stripped and case-folded ("Alice " and "alice" are one
    student); None or an empty string: no id."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"student_id={value!r} is not allowed: expected a string (your "
                         f"student id, as your instructor grades you) or None")
    value = value.strip().casefold()
    if re.search(r"[\s/\\]", value):
        raise ValueError(f"student_id={value!r} is not allowed: expected an id without "
                         f"spaces or slashes")
    return value or None


def student_id(typed: str | None = None, *, environ: Mapping | None = None,
               cwd: Path | str | None = None) -> str | None:
    """The student whose numbers to draw (see the module's docstring for the order):
    the autograde folder, then ``typed``, then $BIGCOMPUTE_STUDENT_ID, then
    $JUPYTERHUB_USER; None for the default variant."""
    environ = os.environ if environ is None else environ
    if environ.get(NBGRADER_EXECUTION_ENV) == "autograde":
        # nbgrader runs the kernel in autograded/<student_id>/<assignment_id>/
        folder = Path(os.getcwd() if cwd is None else cwd).resolve()
        return normalise_student_id(folder.parent.name)
    for candidate in (typed, environ.get(STUDENT_ID_ENV), environ.get(HUB_USER_ENV)):
        found = normalise_student_id(candidate)
        if found:
            return found
    return None


# ------------------------------------------------------------------ drawing

def _check_chapter_exercise(chapter, exercise) -> dict:
    if isinstance(chapter, bool) or not isinstance(chapter, int) or chapter not in INPUTS:
        raise ValueError(f"chapter={chapter!r} is not allowed: expected a chapter with "
                         f"per-student inputs ({', '.join(str(c) for c in INPUTS)})")
    if exercise not in INPUTS[chapter]:
        raise ValueError(f"exercise={exercise!r} is not allowed: expected one of chapter "
                         f"{chapter}'s exercises with inputs ({', '.join(INPUTS[chapter])})")
    return INPUTS[chapter]


def option_index(student: str | None, chapter: int, exercise: str, choice: Choice) -> int:
    """Which option of ``choice`` the student gets: 0 (the default) without an id, else
    the SHA-256 of the student, chapter, exercise and input names, modulo the options."""
    student = normalise_student_id(student)
    if student is None:
        return 0
    key = f"{_SALT}/{student}/ch{chapter:02d}/{exercise}/{'+'.join(choice.names)}"
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % len(choice.options)


def draw(chapter: int, exercise: str, student: str | None = None) -> Inputs:
    """One exercise's inputs for ``student`` (None: the default variant)."""
    spec = _check_chapter_exercise(chapter, exercise)[exercise]
    student = normalise_student_id(student)
    values: dict = {}
    for choice in spec:
        values.update(choice.values(option_index(student, chapter, exercise, choice)))
    return Inputs(chapter, exercise, student, values)


def chapter_variant(chapter: int, typed_student_id: str | None = None, *,
                    environ: Mapping | None = None,
                    cwd: Path | str | None = None) -> ChapterVariant:
    """Every exercise's inputs for the student `student_id` finds (``typed_student_id`` is
    the notebook's ``STUDENT_ID`` cell). Prints which student it is for when the typed id
    and the autograde folder disagree, so that the feedback says so."""
    if isinstance(chapter, bool) or not isinstance(chapter, int) or chapter not in INPUTS:
        raise ValueError(f"chapter={chapter!r} is not allowed: expected a chapter with "
                         f"per-student inputs ({', '.join(str(c) for c in INPUTS)})")
    typed = normalise_student_id(typed_student_id)
    found = student_id(typed, environ=environ, cwd=cwd)
    if typed and found != typed:
        print(f"Note: this notebook gives STUDENT_ID = {typed!r} but is graded as "
              f"{found!r}: the numbers below are {found!r}'s.")
    return ChapterVariant(chapter, found)
