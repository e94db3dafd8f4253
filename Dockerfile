# The ingest service (and every `suitcase` command) as a container: slim Python, non-root user.
# The build stage compiles the ingest hot path (mypyc, iot_suitcase/compiled.py); the image has no compiler.
FROM python:3.11.11-slim-bookworm AS build

RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/suitcase
ENV PATH=/opt/suitcase/bin:$PATH
WORKDIR /app
COPY pyproject.toml setup.py README.md requirements.lock ./
COPY devices ./devices
COPY ingest ./ingest
COPY dashboards ./dashboards
COPY simulators ./simulators
COPY iot_suitcase ./iot_suitcase
# the locked runtime dependencies, then the project compiled against them (mypyc reads their types, so no
# isolated build); the compiler's own packages leave again
ARG SUITCASE_COMPILE=1
RUN pip install --no-cache-dir -c requirements.lock -r requirements.lock mypy==2.4.1 types-PyYAML==6.0.12.20261122 \
    types-tqdm==4.70.0.20261122 setuptools==84.2.1 wheel
RUN pip install --no-cache-dir --no-build-isolation --no-deps .
RUN pip uninstall --yes mypy librt ast_serialize pathspec mypy_extensions types-PyYAML types-tqdm setuptools wheel

FROM python:3.11.11-slim-bookworm
RUN useradd --create-home --uid 10001 suitcase
COPY --from=build /opt/suitcase /opt/suitcase
ENV PATH=/opt/suitcase/bin:$PATH
WORKDIR /app

USER suitcase
# The write-ahead log and rejects store live on a volume; the registry and credentials come from ./var.
ENV SUITCASE_DATA_DIR=/data \
    SUITCASE_REGISTRY_FILE=/config/registry.yaml \
    SUITCASE_CREDENTIALS_FILE=/config/credentials.yaml \
    SUITCASE_ACCOUNTS_FILE=/config/accounts.sqlite3 \
    SUITCASE_OPENDATA_FILE=/config/opendata.toml \
    SUITCASE_HTTP_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --retries=4 CMD ["suitcase", "health"]
ENTRYPOINT ["suitcase"]
CMD ["ingest"]
