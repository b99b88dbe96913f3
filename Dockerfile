# syntax=docker/dockerfile:1
# One image for both stateless tiers: `stateline gateway ...` and `stateline app ...`
# (the command picks the role; see deploy/kubernetes/). Two stages: the builder has a
# C compiler and Cython and builds the wheel with the compiled gateway data plane; the
# runtime stage has neither, only the installed wheel, and runs as a non-root user.
# Built and checked against the repository by tests/unit/deploy/test_dockerfile.py.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# The wheel and every dependency's wheel, so the runtime stage needs no compiler.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    STATELINE_DATA_DIR=/data
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels stateline \
    && rm -rf /wheels \
    # Fail the build if the gateway's hot modules did not compile (no silent pure Python).
    && python -c "import sys; from stateline.gateway import native; sys.exit(native.mode != 'compiled')" \
    && groupadd --system --gid 10001 stateline \
    && useradd --system --uid 10001 --gid stateline --home-dir /data --no-create-home stateline \
    && mkdir -p /data && chown stateline:stateline /data
# The only writable places a read-only root filesystem needs: /data (the data dir) and
# /tmp; the Kubernetes manifests mount emptyDirs there.
VOLUME ["/data", "/tmp"]
USER 10001:10001
WORKDIR /data
EXPOSE 8080 8000
ENTRYPOINT ["stateline"]
CMD ["--help"]
