"""Maintenance mode for Django, configured from the environment."""

from __future__ import annotations
