"""The grid's progress line (done / running / failed / left and an ETA, rewritten in place on a terminal, one line
per change elsewhere) and its summary table."""

from __future__ import annotations

import sys
import time

from icdbench.grid.process import Outcome
from icdbench.io import format_table

FAILED = ("failed", "terminated", "busy")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class Progress:
    def __init__(self, name: str, total: int, slots: int, on_outcome=None, stream=None):
        self.name, self.total, self.slots = name, total, max(1, slots)
        self.on_outcome = on_outcome  # called with each outcome as it arrives (the driver stores its record)
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.running = 0
        self.outcomes: list[Outcome] = []
        self.start = time.perf_counter()
        self._width = 0

    @property
    def done(self) -> int:
        return sum(o.status not in FAILED for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status in FAILED for o in self.outcomes)

    def eta(self) -> str:
        trained = [o.wall_s for o in self.outcomes if o.status == "done"]
        left = self.total - len(self.outcomes)
        if not trained or not left:
            return "?" if left else "0s"
        # the mean run so far, over the slots that run at once; the running runs count as half done
        return _duration((left - self.running / 2) * (sum(trained) / len(trained)) / min(self.slots, left))

    def line(self) -> str:
        left = self.total - len(self.outcomes) - self.running
        return (f"grid {self.name}: {self.done} done, {self.running} running, {self.failed} failed, {left} left; "
                f"{_duration(time.perf_counter() - self.start)} elapsed, ETA {self.eta()}")  # fmt: skip

    def show(self) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def started(self, running: int) -> None:
        if running != self.running:
            self.running = running
            self.show()

    def finished(self, outcome: Outcome, running: int) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        self.outcomes.append(outcome)
        self.running = running
        if outcome.status in FAILED:
            self.message(f"grid: {outcome.status}: {outcome.key}: {outcome.error} (log: {outcome.log})")
        self.show()

    def message(self, text: str) -> None:
        """A line of its own above the progress line."""
        if self.tty:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def summary(outcomes: list[Outcome], planned_done: int = 0) -> str:
    """One row per run of this invocation (status, wall time, run folder or log); failures with their command."""
    rows = []
    for o in sorted(outcomes, key=lambda o: (o.status not in FAILED, o.key)):
        micro = o.record.metrics.full.get("micro_f1") if o.record is not None else None
        where = o.run_dir if o.status not in FAILED and o.run_dir else o.log
        rows.append([o.key, o.status + (" (resumed)" if o.resumed else ""), _duration(o.wall_s),
                     "" if micro is None else f"{micro:.4f}", where or ""])  # fmt: skip
    table = format_table(["run", "status", "wall", "micro-F1", "run folder / log"], rows, numeric={2, 3})
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    if planned_done:
        parts.append(f"{planned_done} already recorded")
    text = f"{table}\n\n{', '.join(parts)}"
    failures = [o for o in outcomes if o.status in FAILED]
    for o in failures:
        tail = "\n".join(f"    | {line}" for line in o.log_tail.splitlines()[-10:])
        text += f"\n\n{o.status}: {o.key}: {o.error}\n  command: {o.command}\n  log: {o.log}"
        text += f"\n{tail}" if tail else ""
    return text
