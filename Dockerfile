# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/dlrecon
# dependencies first, so source changes do not reinstall them
COPY pyproject.toml README.md ./
RUN mkdir -p dlrecon receiver reconcile sql && touch dlrecon/__init__.py receiver/__init__.py \
        reconcile/__init__.py sql/__init__.py \
    && /opt/dlrecon/bin/pip install --no-cache-dir . \
    && /opt/dlrecon/bin/pip uninstall -y dlrecon
COPY dlrecon ./dlrecon
COPY receiver ./receiver
COPY reconcile ./reconcile
COPY sql ./sql
RUN /opt/dlrecon/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/dlrecon dlrecon
COPY --from=build /opt/dlrecon /opt/dlrecon
ENV PATH=/opt/dlrecon/bin:$PATH \
    DLRECON_SERVER__HOST=0.0.0.0 \
    DLRECON_DATABASE__DATA_DIR=/var/lib/dlrecon/data
USER dlrecon
WORKDIR /var/lib/dlrecon
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"
ENTRYPOINT ["dlrecon"]
CMD ["serve"]
