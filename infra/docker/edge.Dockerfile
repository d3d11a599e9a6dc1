# syntax=docker/dockerfile:1
# The edge: FastAPI (HTTP, WebSocket, SSE) plus the built web UI. No model code, so the package
# is installed without the `models` extra. Build from the repo root:
#   docker build -f infra/docker/edge.Dockerfile -t relayline-edge .

# --- the SPA ----------------------------------------------------------------------------------
FROM node:20 AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci
# Named sources, not `COPY web/ ./`: a host web/node_modules would overwrite the one npm ci made.
COPY web/index.html web/vite.config.ts web/tsconfig*.json ./
COPY web/public/ public/
COPY web/src/ src/
RUN npm run build

# --- the edge ---------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin relayline

WORKDIR /app
COPY pyproject.toml ./
COPY contracts/ contracts/
COPY services/ services/
RUN pip install . && rm -rf build *.egg-info

COPY --from=web /web/dist /app/web/dist
ENV EDGE_WEB_DIST=/app/web/dist

USER relayline
EXPOSE 8000

# Liveness only (/healthz); readiness (/readyz) depends on Redis. slim has no curl: use Python.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["relayline", "edge", "--host", "0.0.0.0", "--port", "8000"]
