# The sample project under gunicorn, with envmaintenance installed from this repository.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GUNICORN_BIND=0.0.0.0:8000

WORKDIR /app

COPY pyproject.toml README.md LICENSE ./
COPY envmaintenance ./envmaintenance
# The package is this checkout; its [redis] extra's versions come from pyproject.toml.
# hadolint ignore=DL3013
RUN pip install ".[redis]" "gunicorn==27.*" "whitenoise==6.*" "django-cors-headers==4.*"

COPY sample_project ./sample_project

RUN useradd --system --uid 10001 --user-group --no-create-home app
USER 10001:10001

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["gunicorn", "--config", "sample_project/gunicorn.conf.py"]
