"""How long the holder's connect loop waits before the next attempt.

Pure arithmetic, apart from the holder so that the middleware can configure it from settings and a test
can check it on its own::

    Backoff(initial=0.5, maximum=30.0).delay(3)  # 1.0 to 2.0 s: 0.5 * 2**2, with jitter
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delay before retry ``attempt`` (1-based): exponential, capped, with "equal jitter" so that many
    workers failing together do not retry in lockstep. Permanent errors (bad credentials, missing
    keyspace) wait the maximum at once: no retry storm against the cluster."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: bool = True) -> None:
        self.initial, self.maximum, self.jitter = initial, maximum, jitter

    def delay(self, attempt: int, *, permanent: bool = False) -> float:
        base = self.maximum if permanent else min(self.maximum, self.initial * 2 ** min(attempt - 1, 30))
        return random.uniform(base / 2, base) if self.jitter else base
