"""SIGTERM over a whole run, not only inside Lightning's fit.

SLURM (preemption, the time limit) and ``icdbench grid`` stop a run with SIGTERM. Inside a Trainer stage
Lightning's handler notes it and ends the loop at the next batch (``SIGTERMException``; the checkpoint callback
keeps a ``last.ckpt``). Outside a stage (preparing or loading the split, building the vocabulary, a scikit-learn
fit, scoring) Python's default would kill the process on the spot, and Lightning's handler, once its stage is
over, would have left the process running on to write a record. :class:`StopOnSigterm` covers the rest: SIGTERM
raises :class:`~icdbench.errors.Terminated` (exit 143, nothing recorded) wherever the run is.

Python runs a handler between bytecodes of the main thread, so one long call into native code (one liblinear
fit) finishes before the run stops; a grid of scikit-learn fits stops between two of them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from icdbench.errors import Terminated


class StopOnSigterm:
    """A context for one run: SIGTERM raises ``Terminated``; while a Lightning stage holds the signal (its
    handler calls the one it replaced, this one) it is only noted, and :meth:`check` raises once the stage is
    over. ``received`` tells whether SIGTERM came at all."""

    def __init__(self):
        self.received = False
        self.run_dir = None  # the run's folder once it has one (what the stop message points to)
        self._handler = self._handle  # one bound method, to recognise it when it is called
        self._previous = None
        self._installed = False
        self._deferred = False

    def _handle(self, signum, frame) -> None:
        self.received = True
        if not self._deferred and signal.getsignal(signal.SIGTERM) == self._handler:  # not in a Lightning stage
            raise Terminated("stopped by SIGTERM")

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Let the block finish (writing the record: seconds) and the run end as finished."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False

    def check(self) -> None:
        """Raise ``Terminated`` if SIGTERM came while a Lightning stage held it (e.g. during the test stage)."""
        if self.received:
            raise Terminated("stopped by SIGTERM")

    def __enter__(self) -> StopOnSigterm:
        # only the main thread may set handlers (a run in a worker thread keeps the process's handler)
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self._previous is None else self._previous)
            self._installed = False
