"""Discord's request signature: Ed25519 over timestamp + body, with the application's public key.

Discord sends deliberately invalid signatures to an endpoint it is asked to register and expects 401;
a request older than the allowed age is a replay and is refused the same way.
"""

from __future__ import annotations

import time

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey


class Verifier:
    def __init__(self, *, public_key: str, max_age: float) -> None:
        self._key = VerifyKey(bytes.fromhex(public_key))
        self._max_age = max_age

    def problem(self, *, signature: str | None, timestamp: str | None, body: bytes, now: float | None = None) -> str:
        """Why the request must be refused, or "" when it is genuine and fresh."""
        if not signature or not timestamp:
            return "missing signature headers"
        try:
            sent_at = float(timestamp)
            raw_signature = bytes.fromhex(signature)
        except ValueError:
            return "malformed signature headers"
        if abs((now if now is not None else time.time()) - sent_at) > self._max_age:
            return "stale timestamp"
        try:
            self._key.verify(timestamp.encode() + body, raw_signature)
        except (BadSignatureError, ValueError):
            return "bad signature"
        return ""
