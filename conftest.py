"""Test-wide settings, read by pytest before anything runs (notebook kernels included)."""

import os
import tempfile

# Exercise checks record attempts; tests (and the notebooks nbval runs) must never touch a
# learner's real progress file, so every run gets its own.
if "ADLAB_COURSE_DB" not in os.environ:
    os.environ["ADLAB_COURSE_DB"] = os.path.join(
        tempfile.mkdtemp(prefix="adlab-test-progress-"), "progress.sqlite3")
