"""CQL text to a statement tree (``.._ast``): ``_lexer`` (tokens), ``_tokens`` (the token stream and shared
grammar pieces: names, types, terms), ``_ddl`` (CREATE/ALTER/DROP/TRUNCATE/USE/DESCRIBE), ``_dml``
(SELECT/INSERT/UPDATE/DELETE/BATCH), ``_parser`` (the entry point, ``parse``)."""
