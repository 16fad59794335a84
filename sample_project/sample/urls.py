from __future__ import annotations

from django.urls import path

from sample import views

urlpatterns = [
    path("", views.home),
    path("healthz", views.healthz),
    path("api/status", views.api_status),
]
