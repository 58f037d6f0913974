"""Role processes: long-running work (the processor, later the poller and the reconciler) that
`serve` runs in processes of its own beside the HTTP workers, with the same restart and stop
rules for all (see `dlrecon.runtime`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# `run(settings, database_url, stop)`: the role's work until `stop` is set. `settings` is the
# composition root's whole configuration (a `receiver.settings.Settings`, with the sections of
# every wing)
RunRole = Callable[[Any, str, asyncio.Event], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Role:
    """A kind of process `serve` supervises: its name, its work, and how many to start."""

    name: str
    run: RunRole
    # how many processes of this role to start under this configuration (0: none)
    processes: Callable[[Any], int]
