"""Faults a test asks for: the next requests fail, arrive truncated or late."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One armed fault; `times` counts down per matching request."""

    kind: str                       # "fail", "truncate" or "slow"
    times: int
    path_contains: str | None = None
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0


@dataclass
class Planned:
    """What happens to one request: sleep first, then maybe fail, maybe cut the body."""

    sleep: float = 0.0
    fail: Fault | None = None
    truncate: bool = False


class FaultPlan:
    """Thread-safe queue of armed faults, consumed in the order they were armed."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError(f"times must be >= 1 (got {fault.times})")
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Planned:
        """Consume at most one fault of each kind that matches `path`."""
        planned = Planned()
        with self._lock:
            for kind in ("slow", "fail", "truncate"):
                fault = next((f for f in self._faults
                              if f.kind == kind and (f.path_contains is None or f.path_contains in path)), None)
                if fault is None:
                    continue
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                if kind == "slow":
                    planned.sleep = fault.seconds
                elif kind == "fail":
                    planned.fail = fault
                else:
                    planned.truncate = True
        return planned

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class FaultArming:
    """fail_next / truncate_next / slow_next for a sandbox that keeps its armed faults in `self.faults`."""

    faults: FaultPlan

    def fail_next(self, status: int = 429, *, times: int = 1, retry_after: float | None = None,
                  path_contains: str | None = None) -> None:
        """The next `times` matching requests answer `status` in the sandbox's error format (Retry-After if given)."""
        self.faults.arm(Fault("fail", times, path_contains, status=status, retry_after=retry_after))

    def truncate_next(self, times: int = 1, *, path_contains: str | None = None) -> None:
        """The next responses announce the full Content-Length, send half the body and close the connection."""
        self.faults.arm(Fault("truncate", times, path_contains))

    def slow_next(self, seconds: float, times: int = 1, *, path_contains: str | None = None) -> None:
        """The next responses wait `seconds` before answering."""
        self.faults.arm(Fault("slow", times, path_contains, seconds=seconds))
