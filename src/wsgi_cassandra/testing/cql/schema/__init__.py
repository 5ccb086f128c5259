"""The catalog of keyspaces, tables, user types and indexes (``_catalog``) and the statements that change or
show it: ``_create_drop`` (CREATE/DROP KEYSPACE and TABLE, TRUNCATE, USE), ``_alter`` (ALTER KEYSPACE/TABLE),
``_user_types`` (CREATE/ALTER/DROP TYPE), ``_indexes`` (CREATE/DROP INDEX, queries through an index),
``_describe`` (server-side DESCRIBE)."""
