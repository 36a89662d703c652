"""Terminal helpers of the CLI: help that shows flags as flags, and the one-time model export's progress."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console

__all__ = ["HelpCommand", "HelpGroup", "ModelPreparation"]


class _FlagsWithoutTypes:
    """Help that shows a flag as just its name: Typer 0.29's rich help gives every option a type column, which
    for a flag (and --help) reads `<bool>`, as if it took a value. An empty metavar is Typer's way to show none."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class HelpGroup(_FlagsWithoutTypes, typer.core.TyperGroup):
    """The root command, its help shown that way."""


class HelpCommand(_FlagsWithoutTypes, typer.core.TyperCommand):
    """Each command, its help shown that way."""


class ModelPreparation:
    """Shows the one-time model export on stderr: a progress bar in a terminal, a line per step otherwise."""

    def __init__(self, messages: Console) -> None:
        self._messages = messages
        self._progress: Any = None
        self._task: Any = None
        self._started = 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self._started:
            self._started = time.monotonic()
            self._messages.print(
                "Preparing the language model for this machine; this happens once and takes up to a minute …"
            )
            if self._messages.is_terminal:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

                self._progress = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=self._messages,
                    transient=True,
                )
                self._progress.start()
                self._task = self._progress.add_task(step, total=total)
        if self._progress is not None:
            self._progress.update(self._task, description=step, completed=done, total=total)
        elif done < total:
            self._messages.print(f"  step {done + 1} of {total}: {step} …")
        if done >= total:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
            self._messages.print(f"The model is ready ({time.monotonic() - self._started:.0f} s).")
