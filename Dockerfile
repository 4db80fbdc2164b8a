# syntax=docker/dockerfile:1
# Build: docker build -t truchement .
# Run:   see README ("Docker").

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install .

FROM python:3.11-slim AS runtime
# Everything the service writes lives in /data, a volume owned by its non-root user: the
# default SQLite database and the `file` email/SMS backends' folder (the working directory
# /app is not writable). In production no demo data is seeded: create the first admin
# with `truchement user create ... --role admin` (see README, "Docker").
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRUCHEMENT_MIGRATIONS_DIR=/app/migrations \
    TRUCHEMENT_ENVIRONMENT=production \
    TRUCHEMENT_DATABASE_URL=sqlite:////data/truchement.sqlite3 \
    TRUCHEMENT_OUTBOX_DIR=/data/outbox
RUN groupadd --system truchement \
 && useradd --system --gid truchement --home-dir /app --shell /usr/sbin/nologin truchement \
 && mkdir -p /app /data/outbox && chown -R truchement:truchement /data
COPY --from=build /opt/venv /opt/venv
COPY --chown=truchement:truchement migrations /app/migrations
COPY --chown=truchement:truchement alembic.ini /app/alembic.ini
WORKDIR /app
USER truchement
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"
CMD ["truchement", "serve", "--host", "0.0.0.0", "--port", "8000"]
