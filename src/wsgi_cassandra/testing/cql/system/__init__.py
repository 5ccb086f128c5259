"""The tables a node answers about itself and its schema: ``_tables`` (``system.local``, ``peers``,
``peers_v2``, ``system_auth.roles``, the virtual keyspaces ...) and ``_schema_tables`` (``system_schema.*``
rows built from the catalog)."""
