"""Debian's chromium, headless, for the tests of pages for people (driven through playwright;
nothing is downloaded at run time): where it is, how it is launched, and what a page did wrong."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(p: Any) -> Any:
    """The browser of a `sync_playwright()` context."""
    return p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


def watch(page: Any) -> list[str]:
    """A list that fills with the page's console errors and warnings, script errors, failed
    requests and answers of 400 and above."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    return problems
