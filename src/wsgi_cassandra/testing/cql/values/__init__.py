"""CQL values: ``_types`` (column types, the driver's type classes, ordering), ``_literals`` (CQL literals to
Python values), ``_bind`` (bound values decoded, terms compiled), ``_functions`` (native scalar functions,
CAST), ``_json`` (SELECT JSON, INSERT JSON, toJson/fromJson)."""
