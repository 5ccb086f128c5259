"""The Celery recipe (docs/recipes/celery_tasks.py), configured for a test: kombu's filesystem transport as
the broker and a ``file://`` result backend (no server of any kind), both in ``WSGI_CASSANDRA_TEST_CELERY_DIR``;
plus a task that says which process ran it and which process built its session."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

_RECIPE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "celery_tasks.py"
_spec = importlib.util.spec_from_file_location("celery_tasks", _RECIPE)
assert _spec is not None
assert _spec.loader is not None
recipe = importlib.util.module_from_spec(_spec)
sys.modules["celery_tasks"] = recipe  # Celery names tasks after their module
_spec.loader.exec_module(recipe)

app = recipe.app
folder = Path(os.environ["WSGI_CASSANDRA_TEST_CELERY_DIR"])
for sub in ("queue", "processed", "results", "control"):
    (folder / sub).mkdir(parents=True, exist_ok=True)
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),  # not ./control in the working directory
        "polling_interval": 0.05,
    },
    result_backend=f"file://{folder / 'results'}",
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)


@app.task
def who() -> dict[str, Any]:
    connected = recipe.cassandra.holder.get()
    rows = recipe.item_names()
    return {"pid": os.getpid(), "built_pid": None if connected is None else connected.pid, "rows": rows}
