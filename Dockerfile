# syntax=docker/dockerfile:1
# Multi-stage: build wheels with the compilers, run on a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-deps --no-build-isolation .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home /app mindsync \
    && mkdir -p /app/data \
    && chown -R mindsync /app
COPY --from=build /opt/venv /opt/venv
COPY gunicorn.conf.py /app/
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////app/data/mindsync.db \
    MINDSYNC_LOG_JSON=true \
    PROMETHEUS_MULTIPROC_DIR=/tmp/mindsync-metrics
USER mindsync
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["mindsync", "health"]
CMD ["sh", "-c", "mindsync migrate && exec gunicorn -c gunicorn.conf.py"]
