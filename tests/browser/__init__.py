"""Helpers for the real-browser tests (tests/test_browser.py).

``lab`` starts a throwaway JupyterLab server and drives it with Chromium through
Playwright; ``notebooks`` writes the notebooks those tests open.
"""
