"""How ``fit`` reports progress: fit for a terminal, and fit for a log.

- stderr is a terminal: one tqdm bar over every step of every epoch, with the running loss;
- otherwise (a log file, a notebook's captured output, CI): one compact line per epoch on stdout,
  "epoch 3/60  loss 0.4120  accuracy 0.8750  seconds 0.12";
- ``enabled=False``: nothing.
"""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


class Progress:
    """A context manager: ``show(postfix)`` after a read of the loss, ``advance()`` after each
    step, ``epoch_done(epoch, row)`` after each epoch (epochs count from 0)."""

    def __init__(self, epochs: int, steps: int, enabled: bool = True):
        self.epochs, self.steps = epochs, steps
        on_terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.mode = "off" if not enabled else "bar" if on_terminal else "lines"
        self.bar = None

    def __enter__(self):
        if self.mode == "bar":
            self.bar = tqdm(total=self.epochs * self.steps, unit="step",
                            desc=f"epoch 1/{self.epochs}")
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False

    def show(self, postfix: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix(postfix, refresh=False)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def epoch_done(self, epoch: int, row: str) -> None:
        if self.bar is not None and epoch + 1 < self.epochs:
            self.bar.set_description(f"epoch {epoch + 2}/{self.epochs}")
        elif self.mode == "lines":
            print(f"epoch {epoch + 1}/{self.epochs}  {row}", flush=True)
