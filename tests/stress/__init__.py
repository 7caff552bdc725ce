"""Stress suite of the writer modules against the live simulator: runner.py (make stress) and its short version."""
