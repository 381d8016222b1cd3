# One image for every CityLine process; the command chooses which:
#   python -m services.intake | services.classifier | services.dispatcher | services.notifier | services.console
#   cityline topics create            (the one-shot job that creates every topic with its partition count)
#   python -m cityline.sinks sms|smtp (stand-ins for the SMS gateway and the mail server, for demos)
# Build: docker build -t cityline:0.1.0 .   Operators' guide: docs/production.md.

# ---- build: a virtual environment with the pinned dependencies and the project ----
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/cityline
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY shared shared
COPY services services
COPY cityline cityline
COPY benchmarks benchmarks
# Editable: the code runs from /app with its data files (rules, routing, templates) beside it, as in development.
RUN /opt/cityline/bin/pip install -c constraints.txt -e . \
    && /opt/cityline/bin/python -m compileall -q /app

# ---- runtime: the environment and the code, no compilers, a user without a home or a shell ----
FROM python:3.11.14-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 cityline \
    && useradd --system --uid 10001 --gid cityline --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin cityline \
    && install -d -o cityline -g cityline /var/lib/cityline
COPY --from=build /opt/cityline /opt/cityline
COPY --from=build /app /app
COPY deploy/compose/entrypoint.sh /usr/local/bin/cityline-entrypoint
WORKDIR /app
# /var/lib/cityline is the one folder the user may write (the demo sinks' outbox, mounted as a volume there).
# Every service listens on 8080 inside its container (each container has its own address), so the health check,
# the compose file and the Kubernetes probes name one port. The root file system can stay read-only: no bytecode
# is written at run time.
ENV PATH=/opt/cityline/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CITYLINE_LOG_LEVEL=INFO \
    CITYLINE_INTAKE_HTTP_HOST=0.0.0.0 CITYLINE_INTAKE_HTTP_PORT=8080 \
    CITYLINE_CLASSIFIER_HTTP_HOST=0.0.0.0 CITYLINE_CLASSIFIER_HTTP_PORT=8080 \
    CITYLINE_DISPATCHER_HTTP_HOST=0.0.0.0 CITYLINE_DISPATCHER_HTTP_PORT=8080 \
    CITYLINE_NOTIFIER_HTTP_HOST=0.0.0.0 CITYLINE_NOTIFIER_HTTP_PORT=8080 \
    CITYLINE_CONSOLE_HTTP_HOST=0.0.0.0 CITYLINE_CONSOLE_HTTP_PORT=8080 \
    CITYLINE_KNOWLEDGE_HTTP_HOST=0.0.0.0 CITYLINE_KNOWLEDGE_HTTP_PORT=8080
USER 10001:10001
EXPOSE 8080
# /health answers 200 once the service's consumers hold their partitions (503 while it starts).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
ENTRYPOINT ["cityline-entrypoint"]
CMD ["cityline", "--help"]
