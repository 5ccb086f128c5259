"""A real CQL native-protocol server for tests, demos and fault drills (see README, "Testing your app")."""

from __future__ import annotations
