from __future__ import annotations

from django.urls import path, re_path

from sample import views

urlpatterns = [
    path("", views.home),
    path("healthz", views.healthz),
    path("api/status", views.api_status),
    path("contact", views.contact),
    path("pages/<path:slug>", views.page),
    path("slow/", views.slow),
    path("stream/", views.stream),
    # A single-page app's fallback: every other path gets the app shell. Routes
    # like these are why a request is exempt only when its path is normal.
    re_path(r"^.*$", views.app_shell),
]
