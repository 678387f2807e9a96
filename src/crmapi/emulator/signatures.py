"""The signature checker: does a body with its headers carry a valid Close signature?

Close signs ``close-sig-timestamp`` + the raw body with HMAC-SHA256 under the subscription's
hex ``signature_key`` and sends the hex digest as ``close-sig-hash``.
"""

import hmac
import time
from typing import Any

from crmapi.domain.errors import InvalidRequest
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.events.delivery import sign


def check(
    key: str, headers: dict[str, str], body: bytes, max_age: float | None = None
) -> dict[str, Any]:
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("close-sig-timestamp", "")
    presented = lowered.get("close-sig-hash", "")
    try:
        expected = sign(key, timestamp, body)
    except ValueError:
        raise InvalidRequest(field_errors={"signature_key": "Not a hex key."}) from None
    valid = bool(presented) and hmac.compare_digest(presented.lower(), expected)
    problems = []
    if not timestamp:
        problems.append("close-sig-timestamp header missing")
    if not presented:
        problems.append("close-sig-hash header missing")
    elif not valid:
        problems.append("close-sig-hash does not match")
    stale = (
        max_age is not None and timestamp.isdigit() and abs(time.time() - int(timestamp)) > max_age
    )
    if valid and stale:
        valid = False
        problems.append(f"timestamp older than {max_age:g} s")
    return {"valid": valid, "expected_hash": expected, "timestamp": timestamp, "problems": problems}


def verify_signature(ctx: PlaneCtx) -> dict[str, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    key, headers, payload = body.get("signature_key"), body.get("headers"), body.get("body")
    errors = {}
    if not isinstance(key, str) or not key:
        errors["signature_key"] = "This field is required."
    if not isinstance(headers, dict):
        errors["headers"] = "An object with close-sig-hash and close-sig-timestamp."
    if not isinstance(payload, str):
        errors["body"] = "The raw request body, as a string."
    if errors:
        raise InvalidRequest(field_errors=errors)
    max_age = body.get("max_age_seconds")
    return check(
        str(key),
        {str(k): str(v) for k, v in headers.items()},  # type: ignore[union-attr]
        str(payload).encode(),
        float(max_age) if max_age is not None else None,
    )


OPS = [
    PlaneOp(
        "POST",
        "/tools/verify-signature",
        verify_signature,
        "public",
        "Check a Close webhook signature",
        blocking=False,
        tags=("webhooks",),
    ),
]
