"""Close-shaped object ids: a family prefix plus random base62 characters."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
# Older Close object families carry 43 random characters, newer ones 22.
_SHORT_FAMILIES = frozenset(
    {
        "actitype",
        "pipe",
        "seq",
        "sub",
        "outcome",
        "form",
        "formconf",
        "formfld",
        "media",
        "smstmpl",
        "evtint",
        "oa2client",
        "whsub",
        "ev",
        "req",
        "memb",
        "role",
        "apikey",
    }
)


def new_id(prefix: str) -> str:
    """Return a new id such as ``lead_<43 chars>`` or ``pipe_<22 chars>``."""
    length = 22 if prefix in _SHORT_FAMILIES else 43
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_secret(prefix: str, length: int = 40) -> str:
    """Return a fresh high-entropy secret (API key or access token)."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
