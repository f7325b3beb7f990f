"""What the feedback pages show of a failed check: its message, not its traceback.

nbgrader's feedback page (``generate_feedback``) renders the autograded notebook. The
course's configuration removes the hidden tests from it (``ClearHiddenTests``), but a check
that raised keeps IPython's traceback, which quotes the lines around the failure: the hidden
test's own code, the expected value's formula with it. `ShortTracebacks` cuts the traceback
of every check cell to its last line, ``AssertionError: <the check's message>``, which is
written to name what is wrong without giving the expected value (`coursework.checks`).
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = ["FEEDBACK_PREPROCESSORS", "ShortTracebacks"]

# GenerateFeedback.preprocessors of the course (grading.NBGRADER_CONFIG and grading._api)
FEEDBACK_PREPROCESSORS = (
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "bigcompute.coursework.feedback.ShortTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)


class ShortTracebacks(Preprocessor):
    """Replace the traceback of every error output of a graded code cell with one line,
    ``<exception name>: <message>``."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off by default

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    output["traceback"] = [message]
        return cell, resources
