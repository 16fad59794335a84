"""One settings module for every variant; BENCH_VARIANT picks it."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.variants import ALL

variant = ALL[os.environ["BENCH_VARIANT"]]
STATE_DIR = Path(os.environ.get("BENCH_STATE_DIR", "/tmp"))

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchmarks.project.app"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    *variant.apps,
]
MIDDLEWARE = variant.middleware
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": ["django.template.context_processors.request"]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False}

# django-maintenance-mode: the file state backend, as its README sets it up.
MAINTENANCE_MODE = None
MAINTENANCE_MODE_STATE_FILE_PATH = str(STATE_DIR / "maintenance_mode_state.txt")
# django-maintenancemode: the switch is a setting, the allowlist INTERNAL_IPS.
MAINTENANCE_LOCKFILE_PATH = str(STATE_DIR / "maintenancemode.lock")

globals().update(variant.settings)
