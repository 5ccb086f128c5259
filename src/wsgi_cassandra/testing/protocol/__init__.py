"""The CQL native protocol (v3, v4, v5), bytes in and bytes out: the codec of the test server.

Nothing here knows about sockets or about CQL itself; the server runtime (:mod:`..server`) feeds bytes in
and gets messages out, and the CQL engine (:mod:`..cql`) never sees a byte of the protocol.

* :mod:`.frames` -- the frame envelope: opcodes, header, cutting frames out of a byte stream, version refusal.
* :mod:`.segments` -- v5 segments (checksummed, optionally self-contained) around frames.
* :mod:`.requests` -- request bodies decoded: STARTUP, REGISTER, AUTH_RESPONSE, QUERY, PREPARE, EXECUTE, BATCH.
* :mod:`.responses` -- response bodies encoded: ERROR, READY, SUPPORTED, RESULT kinds, EVENT.
* ``_wire`` (the [short]/[string]/[value] notations) and ``_type_options`` (a column type's [option]) are
  private to the codec.
"""
