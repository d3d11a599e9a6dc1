# syntax=docker/dockerfile:1
# A worker: one process serving one pool, named by the POOL environment variable
# (`docker run -e POOL=embed ...`; compose sets it per service). Build from the repo root:
#   docker build -f infra/docker/worker.Dockerfile -t relayline-worker .

FROM python:3.11-slim

# torch must come from a CPU wheel: the default Linux wheel pulls in the CUDA stack (gigabytes).
# The build environment must provide one, through a package index or a folder of wheels, e.g.
#   docker build --build-arg PIP_EXTRA_INDEX_URL=... --build-arg PIP_FIND_LINKS=... ...
# pip reads both from the environment. Build args are visible in the image history: do not put
# credentials in them.
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin relayline

# First, on its own layer: the largest download, and it changes least often.
RUN pip install torch==2.13.0

WORKDIR /app
COPY pyproject.toml ./
COPY contracts/ contracts/
COPY services/ services/
RUN pip install ".[models]" && rm -rf build *.egg-info

USER relayline

# Shell form so that $POOL is expanded at run time; exec so the worker is PID 1 and gets SIGTERM.
CMD ["sh", "-c", "exec relayline worker --pool \"${POOL:?set POOL to a pool in contracts/pools.toml}\""]
