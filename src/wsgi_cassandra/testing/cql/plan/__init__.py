"""A statement tree to a plan, and the plan's run (the execution): ``_build`` (which plan for which
statement; BATCH), ``_select`` (SELECT: partitions, clustering slices, ordering, paging), ``_where``
(restrictions), ``_selection`` (selectors, functions, aggregates, GROUP BY), ``_modify`` (INSERT/UPDATE/DELETE),
``_conditions`` (IF ...), ``_mutations`` (TTL, timestamps, counters), ``_keys`` (partition and clustering
keys), ``_paging`` (the paging state)."""
