# syntax=docker/dockerfile:1
# Multi-stage: dependencies in a layer of their own (rebuilt only when
# pyproject.toml changes), then the code, then a slim non-root runtime.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY README.md ./
COPY schemas ./schemas
COPY tracker ./tracker
COPY redirect ./redirect
COPY ingest ./ingest
COPY migrations ./migrations
COPY service ./service
RUN pip install --no-deps .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tracker
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 TRACKER_HOST=0.0.0.0
WORKDIR /app
USER tracker
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
ENTRYPOINT ["tracker"]
CMD ["serve"]
