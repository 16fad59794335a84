"""Twelve-factor settings: what differs between deploys comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Variables already in the environment win over the file (docker compose's env_file,
# Kubernetes' env, or MAINTENANCE_MODE=1 on the command line).
environ.Env.read_env(os.environ.get("ENV_FILE", BASE_DIR.parent / ".env"))

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "envmaintenance",
    "sample",
]

# WhiteNoise asks to come right after SecurityMiddleware; maintenance comes next,
# before anything that may touch the database (sessions, auth). Static files are
# then served during maintenance without an exempt path.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "envmaintenance.middleware.MaintenanceMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# A single-page app on another origin reads the API, 503s included: CORS headers
# come from django-cors-headers, placed above the maintenance middleware so they
# reach its 503 too (manage.py check warns otherwise: envmaintenance.W011).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_EXPOSE_HEADERS = ["Retry-After"]  # so the app can say when to come back
if CORS_ALLOWED_ORIGINS:
    INSTALLED_APPS.append("corsheaders")
    MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")

ROOT_URLCONF = "sample.urls"
WSGI_APPLICATION = "sample.wsgi.application"
ASGI_APPLICATION = "sample.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "envmaintenance.context_processors.maintenance",
            ]
        },
    }
]

# The pages here never touch the database; sessions use signed cookies so the
# demo needs no migrations.
DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///:memory:")}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
# WhiteNoise serves the app's static files straight from their sources: no
# collectstatic step in the demo.
WHITENOISE_USE_FINDERS = True
TIME_ZONE = "UTC"
USE_TZ = True

# The maintenance page speaks each visitor's language among these (Accept-Language),
# and LANGUAGE_CODE to everyone else.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("pt-br", "Brazilian Portuguese"),
    ("it", "Italian"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("ja", "Japanese"),
    ("zh-hans", "Simplified Chinese"),
    ("ar", "Arabic"),
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"envmaintenance": {"handlers": ["console"], "level": "INFO"}},
}
