"""The leaderboard: validated submissions, recomputed metrics, generated tables, plots and page.

* :mod:`tlbench.leaderboard.schema`: the pydantic models of a submission and of an entry.
* :mod:`tlbench.leaderboard.validate`: the checks, each failing with a named
  :class:`SubmissionError`, and the recomputation of metrics and digests.
* :mod:`tlbench.leaderboard.store`: ``tlbench submit``'s storage of entries and their loading.
* :mod:`tlbench.leaderboard.views` and :mod:`tlbench.leaderboard.render`: ``tlbench
  leaderboard``'s tables, cross-scenario aggregates, transfer matrices, plots and web page.
"""

from tlbench.leaderboard.schema import ENTRY_SCHEMA, SUBMISSION_SCHEMA, Entry, Submission
from tlbench.leaderboard.store import (
    LEADERBOARD_DIR_ENV,
    Submitted,
    leaderboard_dir,
    load_entries,
    submit,
)
from tlbench.leaderboard.validate import ERRORS, SubmissionError, check_entry, check_submission

__all__ = [
    "ENTRY_SCHEMA",
    "ERRORS",
    "LEADERBOARD_DIR_ENV",
    "SUBMISSION_SCHEMA",
    "Entry",
    "Submission",
    "SubmissionError",
    "Submitted",
    "check_entry",
    "check_submission",
    "leaderboard_dir",
    "load_entries",
    "submit",
]
