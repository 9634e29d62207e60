"""Headless Chromium for the data view: the view's browser tests, its page-open benchmark
(bench/view_pages.py) and the docs' screenshots (bench/view_screenshots.py).

Playwright (a dev dependency) drives Debian's Chromium (`make test` installs the `chromium`
package where it can); Playwright's own browser download is never used (no network here).
The flags keep Chromium from reaching out (background networking, component updates, sync):
on a closed network those connections only fail and slow the start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import Iterator

FLAGS = [
    "--headless=new",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system Chromium (`$SRLM_CHROMIUM`, else `chromium` on PATH), or None."""
    return os.environ.get("SRLM_CHROMIUM") or shutil.which("chromium")


def missing() -> str | None:
    """Why a browser cannot run here (None: it can)."""
    if importlib.util.find_spec("playwright") is None:
        return "needs playwright (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "needs Chromium (Debian: apt-get install chromium; `make test` does it as root)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (a Playwright `Browser`), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
