"""Reports: grouping, filters and metrics over clicks, impressions and conversions.

``rollups`` is what the writers (ingest worker, status changes) add to
``rollup_spans``; ``plan`` decides whether a report can be read from it;
``sql`` builds the query for either source; ``engine`` runs it and shapes the
answer (derived metrics, totals, sort, limit, fields a role may not see).
"""
