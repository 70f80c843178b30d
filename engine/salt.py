"""vLLM's `cache_salt` per tenant: one tenant's cached prefixes are never reused for another's prompts.

vLLM mixes the salt into the hash of every cached block, so a request can only hit blocks computed
with the same salt; timing a cache hit can then reveal nothing across tenants. vLLM asks for salts
nobody else can guess: with ENGINE_CACHE_SALT_KEY set, the salt is an HMAC of the tenant under that
key, so even a client that reaches vLLM directly cannot compute a tenant's salt. Without the key it
is a plain hash of the tenant, which still separates tenants that only reach vLLM through LLMOS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def cache_salt(tenant: str, *, key: str | None = None) -> str:
    if key:
        digest = hmac.new(key.encode(), tenant.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return hashlib.sha256(tenant.encode()).hexdigest()[:32]
