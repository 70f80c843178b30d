"""HMAC-SHA256 request signatures, one scheme both ways: jobs posted to LLMOS, and what LLMOS posts out.

The signed bytes are `v1:<unix seconds>:` followed by the raw body; the signature travels as
`X-LLMOS-Signature: v1=<hex>` next to `X-LLMOS-Timestamp`. A timestamp outside the window is refused,
so a captured request cannot be replayed later; within the window the job id makes a replay harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-LLMOS-Timestamp"
SIGNATURE_HEADER = "X-LLMOS-Signature"
VERSION = "v1"


class BadSignature(Exception):
    """Why a request's signature was not accepted (said to the caller; never includes the secret)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{VERSION}:{timestamp}:".encode() + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str, *, timestamp: str | None, signature: str | None, body: bytes, window: int, now: float | None = None
) -> None:
    """Return quietly for a good, fresh signature; raise BadSignature saying what is wrong otherwise."""
    if not timestamp or not signature:
        raise BadSignature(f"unsigned request: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadSignature(f"{TIMESTAMP_HEADER} must be Unix time in whole seconds") from None
    skew = (time.time() if now is None else now) - sent
    if abs(skew) > window:
        raise BadSignature(f"stale request: the timestamp is {abs(skew):.0f} s away, more than the {window} s window")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        raise BadSignature("the signature does not match the body and timestamp")
