"""Small helpers shared by the compat tests."""

import threading
import time


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Poll `predicate` until it returns something truthy (or time runs out); return its value."""
    deadline = time.time() + timeout
    while True:
        v = predicate()
        if v or time.time() >= deadline:
            return v
        time.sleep(interval)


class EventLog:
    """Thread-safe list of watch events with waiting helpers (kazoo fires watches on its own thread)."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait(self, n=1, timeout=10.0):
        """Wait until at least n events were seen; return the list."""
        deadline = time.time() + timeout
        with self._cond:
            while len(self.events) < n:
                left = deadline - time.time()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.events)

    def settle(self, quiet=0.5):
        """Let late (wrong, duplicate) events arrive, then return the list."""
        time.sleep(quiet)
        with self._cond:
            return list(self.events)
