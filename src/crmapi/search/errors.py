"""Search errors become Close's 400 body, pointing at the problem in the query."""

from crmapi.domain.errors import InvalidRequest


class SearchSyntaxError(ValueError):
    """A problem at ``position`` (0-based offset) of the query text."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


def invalid_query(exc: SearchSyntaxError, source: str, param: str = "query") -> InvalidRequest:
    """``Invalid query: <reason> at position N (near '...')`` in ``errors`` and under the param."""
    near = source[exc.position : exc.position + 20]
    where = f" at position {exc.position + 1}" + (f" (near {near!r})" if near else " (the end)")
    message = f"Invalid query: {exc.reason}{where}."
    return InvalidRequest([message], {param: message})
