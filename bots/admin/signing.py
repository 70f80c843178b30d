"""HMAC-SHA256 request signatures, both ways: jobs posted to LLMOS, and what LLMOS posts out.

Two schemes, the same secret. LLMOS's own `v1`: the signed bytes are `v1:<unix seconds>:` followed by
the raw body; the signature travels as `X-LLMOS-Signature: v1=<hex>` next to `X-LLMOS-Timestamp`.
And Standard Webhooks (standardwebhooks.com, signed with the `standardwebhooks` package): `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC of "id.timestamp.body">`, keyed with the
secret's UTF-8 bytes. Outbound requests carry both; inbound ones may use either. A timestamp outside
the window is refused, so a captured request cannot be replayed later; within the window the job id
makes a replay harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook

TIMESTAMP_HEADER = "X-LLMOS-Timestamp"
SIGNATURE_HEADER = "X-LLMOS-Signature"
VERSION = "v1"
STANDARD_ID = "webhook-id"
STANDARD_TIMESTAMP = "webhook-timestamp"
STANDARD_SIGNATURE = "webhook-signature"


class BadSignature(Exception):
    """Why a request's signature was not accepted (said to the caller; never includes the secret)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{VERSION}:{timestamp}:".encode() + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def standard_sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` as Standard Webhooks defines it (the body must be UTF-8, as JSON is)."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret.encode()).sign(msg_id=message_id, timestamp=when, data=body.decode())


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """LLMOS's `v1` headers."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def standard_headers(secret: str, body: bytes, *, message_id: str, now: float | None = None) -> dict[str, str]:
    """Standard Webhooks headers; `message_id` stays the same when the same message is sent again."""
    seconds = int(time.time() if now is None else now)
    return {
        STANDARD_ID: message_id,
        STANDARD_TIMESTAMP: str(seconds),
        STANDARD_SIGNATURE: standard_sign(secret, message_id, seconds, body),
    }


def verify_request(
    secret: str, headers: Mapping[str, str], body: bytes, *, window: int, now: float | None = None
) -> None:
    """Standard Webhooks headers when the request has them, else LLMOS's `v1` ones."""
    signature = headers.get(STANDARD_SIGNATURE)
    if signature is None:
        verify(
            secret,
            timestamp=headers.get(TIMESTAMP_HEADER),
            signature=headers.get(SIGNATURE_HEADER),
            body=body,
            window=window,
            now=now,
        )
        return
    message_id, timestamp = headers.get(STANDARD_ID), headers.get(STANDARD_TIMESTAMP)
    if not message_id or not timestamp:
        raise BadSignature(f"{STANDARD_SIGNATURE} needs {STANDARD_ID} and {STANDARD_TIMESTAMP} beside it")
    sent = _fresh(timestamp, window=window, now=now, header=STANDARD_TIMESTAMP)
    try:
        expected = standard_sign(secret, message_id, sent, body).encode()
    except UnicodeDecodeError:
        raise BadSignature("Standard Webhooks signs UTF-8 bodies; this body is not UTF-8") from None
    # Several space-separated signatures may be sent (key rotation): one match is enough.
    if not any(hmac.compare_digest(expected, given.encode()) for given in signature.split()):
        raise BadSignature("the signature does not match the body, id and timestamp")


def _fresh(timestamp: str, *, window: int, now: float | None, header: str) -> int:
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadSignature(f"{header} must be Unix time in whole seconds") from None
    skew = (time.time() if now is None else now) - sent
    if abs(skew) > window:
        raise BadSignature(f"stale request: the timestamp is {abs(skew):.0f} s away, more than the {window} s window")
    return sent


def verify(
    secret: str, *, timestamp: str | None, signature: str | None, body: bytes, window: int, now: float | None = None
) -> None:
    """Return quietly for a good, fresh signature; raise BadSignature saying what is wrong otherwise."""
    if not timestamp or not signature:
        raise BadSignature(
            f"unsigned request: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}, or the Standard Webhooks headers"
        )
    _fresh(timestamp, window=window, now=now, header=TIMESTAMP_HEADER)
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        raise BadSignature("the signature does not match the body and timestamp")
