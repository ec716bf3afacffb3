-- The hourly rollup (migration 0001) is read by no report: reports read rollup_spans
-- (0008, 0012) or the raw rows. Writing it cost about 3 % of ingest (docs/notes/issue-4.md).
-- Its trigger priced CPC/CPM into it (0005); rollup_spans are priced at read time (0036).
-- docs/adr/0075-retire-rollup-hourly.md
DROP TRIGGER IF EXISTS rollup_hourly_click_pricing ON rollup_hourly;
DROP FUNCTION IF EXISTS accrue_click_pricing();
DROP TABLE IF EXISTS rollup_hourly;
