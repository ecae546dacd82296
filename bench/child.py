"""A benchmark's set-up in a forked child process, so the parent's peak memory is the measurement's own."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


def result_of_child(target: Callable[..., None], *args: Any, what: str) -> Any:
    """Run `target(*args, out)` in a forked child; the one value it sends through `out`.

    A child that fails raises RuntimeError naming `what` (the set-up step) and its exit code.
    """
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    child = ctx.Process(target=target, args=(*args, there))
    child.start()
    there.close()  # the child holds its end: a child that dies ends recv() with EOFError
    try:
        value = here.recv()
    except EOFError:
        value = None
    child.join()
    if child.exitcode:
        raise RuntimeError(f"{what} failed (exit {child.exitcode})")
    return value
