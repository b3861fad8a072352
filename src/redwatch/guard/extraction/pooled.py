"""The pool: queries of clients too young for their own test, gathered across clients in a
sliding time window and tested as if one client had sent them.

Why young clients only: a thief who splits the work over many API keys keeps every key
below `min_queries`, so no key is ever tested on its own; established clients are already
tested individually and would only dilute the pool with their (mostly benign) traffic. In
the pool, a query's PRADA distance is measured against the earlier pooled queries of the
same class, whoever sent them, so Jacobian children split over keys still sit one step from
their parents. The pool is bounded by count and by age, and an event names the clients
whose queries are in it. A client leaves the pool (its queries are dropped, no more are
admitted) once it has enough queries for its own test, or when it is flagged on its own:
its traffic is then judged by its own test, and neither dilutes the pool nor gets the young
clients beside it named.
"""

from __future__ import annotations

from dataclasses import dataclass

from redwatch.guard.extraction.history import QueryHistory
from redwatch.guard.extraction.prada import ClientState

MAX_NAMED = 100  # clients listed in one pooled event (the count is always complete)


@dataclass
class Pool:
    """The pooled state (a ClientState whose history remembers each entry's client)."""

    state: ClientState

    @classmethod
    def create(cls, capacity: int, dims: int) -> Pool:
        """An empty pool of at most `capacity` queries of `dims` features."""
        return cls(ClientState(QueryHistory(capacity, dims, owners=True)))

    @property
    def history(self) -> QueryHistory:
        """The pooled queries."""
        return self.state.history

    def admits(
        self, client: ClientState | None, min_queries: int, now: float, window_s: float
    ) -> bool:
        """Whether a query from `client` (None: not tracked yet) goes into the pool too:
        while it is young and not flagged on its own."""
        if client is None:
            return True
        return client.young(min_queries) and not client.quiet(now, window_s)

    def forget(self, identity: str) -> None:
        """Take a client out of the pool: one tested (or flagged) on its own now."""
        self.history.drop_owner(identity)

    def contributors(self) -> tuple[list[str], int]:
        """The clients whose queries are in the pool: up to MAX_NAMED names, and how many."""
        names = self.history.owners()
        return names[:MAX_NAMED], len(names)
