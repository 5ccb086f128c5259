"""pytest fixtures for the CQL test server (registered through the ``pytest11`` entry point)."""

from __future__ import annotations
