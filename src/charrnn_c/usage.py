"""Who is using one model: a trainer, or readers, never both at once (CharRNN's lock)."""

from __future__ import annotations

import threading
from typing import cast


class Users:
    """Who is using one model: a trainer, or readers, never both at once.

    fit trains the model alone; sampling, generating, scoring, evaluating,
    saving, pickling and reading the weights are reads, and any number may
    run at once. A read from another thread while fit runs would see the
    weights change under it, and so would a read under way while fit starts:
    both are refused, with RuntimeError. The training thread may read (its
    callbacks do). A count under a lock: two lock round trips per read,
    about 0.2 us.
    """

    @staticmethod
    def of(owner: object) -> Users:
        """``owner``'s Users, made on first use and kept in its __dict__ (an
        estimator's __init__ only stores its arguments)."""
        users = owner.__dict__.get("_usage")
        if users is None:
            users = owner.__dict__.setdefault("_usage", Users())   # atomic: one per owner
        return cast(Users, users)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trainer: threading.Thread | None = None
        self._readers = 0

    def refuse_if_trained_elsewhere(self) -> None:
        trainer = self._trainer
        if trainer is not None and trainer is not threading.current_thread():
            raise RuntimeError(
                "this CharRNN is being trained in another thread, and using or changing it "
                "meanwhile would race with the updates: give each thread its own model "
                "(copy.deepcopy or pickle makes one)")

    def start_training(self, reentrant: bool = False) -> bool:
        """Hold the model alone; False if this thread already held it (``reentrant``)."""
        with self._lock:
            if self._trainer is threading.current_thread() and reentrant:
                return False
            if self._trainer is threading.current_thread():
                raise RuntimeError("fit cannot run inside its own training (from a callback)")
            if self._trainer is not None:
                raise RuntimeError("this CharRNN is already being trained in another thread")
            if self._readers:
                raise RuntimeError(
                    f"this CharRNN is in use ({self._readers} sample, generate, score, "
                    f"evaluate or save call(s) under way), and changing it now would change "
                    f"what they read: wait for them, and exhaust or close() any generate() "
                    f"iterator (it holds the model while it is open)")
            self._trainer = threading.current_thread()
            return True

    def stop_training(self) -> None:
        with self._lock:
            self._trainer = None

    def __enter__(self) -> None:
        """A read: refused while another thread trains; fit waits for it to end."""
        with self._lock:
            self.refuse_if_trained_elsewhere()
            self._readers += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._readers -= 1
