"""Coursework: `checks`, what the exercise notebooks' check cells call, and `grading`, which
releases a chapter's exercises, grades submissions with nbgrader and builds the student site
(``python -m bigcompute.coursework.grading``).
"""
