"""The cqlengine model of the cqlengine tests (no middleware here: tests import it in their own process)."""

from __future__ import annotations

from cassandra.cqlengine import columns
from cassandra.cqlengine.models import Model


class Reading(Model):
    __table_name__ = "readings"
    sensor = columns.Text(partition_key=True)
    seq = columns.Integer(primary_key=True)
    value = columns.Text()
