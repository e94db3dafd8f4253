# The ingest service (and every `suitcase` command) as a container: slim Python, non-root user.
FROM python:3.11.11-slim-bookworm

RUN useradd --create-home --uid 10001 suitcase
WORKDIR /app
COPY pyproject.toml setup.py README.md requirements.lock ./
COPY devices ./devices
COPY ingest ./ingest
COPY dashboards ./dashboards
COPY simulators ./simulators
COPY iot_suitcase ./iot_suitcase
RUN pip install --no-cache-dir -c requirements.lock .

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
