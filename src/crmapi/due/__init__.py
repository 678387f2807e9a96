"""Work that falls due with time, on each organization's clock.

``registry.KINDS`` declares each kind of due work (scheduled sends, webhook retries); event
retention is a sweep run at every step. The background worker fires what is due for
organizations on wall or offset time (``run_background``); ``advance`` moves one
organization's clock and fires its due work one item at a time, in time order.
"""

from crmapi.due.runner import advance, pending, run_background

__all__ = ["advance", "pending", "run_background"]
