"""Login throttling: failed logins per username and per client address, with exponential backoff.

After `max_failures` failures within `window_s` for one username (or `address_max_failures` for one
address: an office shares one), the next try has to wait `base_delay_s`, and each further failure
doubles the wait up to `max_delay_s`. A good login clears its username (not its address, or one valid
account would let an attacker reset the count between guesses).

In memory, per web process: the web app runs as one process (docs/DEPLOY.md). No Rasa, no database.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _State:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, max_failures: int = 5, address_max_failures: int = 20, window_s: float = 3600.0,
                 base_delay_s: float = 30.0, max_delay_s: float = 900.0, max_keys: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.address_max_failures = address_max_failures
        self.window_s = window_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_keys = max_keys
        self.clock = clock
        self._states: dict[str, _State] = {}

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return "user:" + username.strip().casefold(), "addr:" + address

    def _limit(self, key: str) -> int:
        return self.max_failures if key.startswith("user:") else self.address_max_failures

    def _state(self, key: str, now: float, create: bool) -> _State | None:
        state = self._states.get(key)
        if state is not None:
            while state.failures and now - state.failures[0] >= self.window_s:
                state.failures.popleft()
        elif create:
            if len(self._states) >= self.max_keys:
                self._prune(now)
            state = self._states[key] = _State()
        return state

    def _prune(self, now: float) -> None:
        """Drop keys with nothing recent; if that is not enough, start over rather than grow."""
        for key in [k for k, s in self._states.items()
                    if s.blocked_until <= now and (not s.failures or now - s.failures[-1] >= self.window_s)]:
            del self._states[key]
        if len(self._states) >= self.max_keys:
            self._states.clear()

    def retry_after(self, username: str, address: str) -> int:
        """Seconds to wait before the next try (0: go ahead)."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(username, address):
            state = self._state(key, now, create=False)
            if state is not None:
                wait = max(wait, state.blocked_until - now)
        return math.ceil(wait) if wait > 0 else 0

    def failure(self, username: str, address: str) -> int:
        """Count a failed login; returns the wait that now applies (0 while under the limits)."""
        now = self.clock()
        for key in self._keys(username, address):
            state = self._state(key, now, create=True)
            state.failures.append(now)
            over = len(state.failures) - self._limit(key)
            if over >= 0:
                delay = min(self.max_delay_s, self.base_delay_s * 2 ** min(over, 32))
                state.blocked_until = max(state.blocked_until, now + delay)
        return self.retry_after(username, address)

    def success(self, username: str) -> None:
        self._states.pop(self._keys(username, "")[0], None)


def wait_text(seconds: int) -> str:
    """'30 seconden', '1 minuut', '15 minuten' (Dutch, rounded up to whole minutes from a minute on)."""
    if seconds < 60:
        return f"{seconds} seconden" if seconds != 1 else "1 seconde"
    minutes = math.ceil(seconds / 60)
    return "1 minuut" if minutes == 1 else f"{minutes} minuten"
