"""The `ENGINE_ENDPOINTS` setting: which servers serve which model.

    ENGINE_ENDPOINTS="qwen2.5-7b=http://vllm-a:8000/v1,http://vllm-b:8000/v1;llama-3.1-8b=http://vllm-c:8000/v1"

Entries are separated by `;`, each is `model=url[,url…]`; the model name is the one the servers
serve (vLLM's `--served-model-name`), and every URL is one replica of it. The first model is the
default unless ENGINE_MODEL names another.
"""

from __future__ import annotations

from urllib.parse import urlsplit

FORMAT = "model=url[,url…][;model=url…]"


def parse_endpoints(value: str) -> dict[str, tuple[str, ...]]:
    """Read the setting; a ValueError says which entry is wrong and how."""
    groups: dict[str, tuple[str, ...]] = {}
    entries = [entry.strip() for entry in value.split(";") if entry.strip()]
    if not entries:
        raise ValueError(f"is empty; expected {FORMAT}")
    for number, entry in enumerate(entries, start=1):
        model, sep, urls = entry.partition("=")
        model = model.strip()
        if not sep or not model:
            raise ValueError(f"entry {number} ({entry!r}) must be model=url[,url…]")
        if model in groups:
            raise ValueError(f"model {model!r} is named twice; list all its URLs in one entry")
        replicas: list[str] = []
        for raw in (u.strip() for u in urls.split(",")):
            parts = urlsplit(raw)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(f"{raw!r} (model {model!r}) is not an http:// or https:// URL")
            url = raw.rstrip("/").removesuffix("/v1")  # the server's root, as the engine client wants
            if url in replicas:
                raise ValueError(f"{raw!r} is listed twice for model {model!r}")
            replicas.append(url)
        groups[model] = tuple(replicas)
    return groups
