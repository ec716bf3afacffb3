-- Issue 6 (reports): a click's class is one of the five the redirect writes
-- (schemas.events.ClickClass). With the set closed, bot clicks (bot, preview,
-- prefetch) are exactly gross clicks (not head) less human ones, and the reports'
-- raw path counts them that way: an IN list of three texts per click cost about
-- 60 ms of a 7-day sub1 report over 680k clicks (docs/adr/0073).
ALTER TABLE clicks ADD CONSTRAINT clicks_click_class
    CHECK (click_class IN ('human', 'bot', 'preview', 'head', 'prefetch'));
ALTER TABLE impressions ADD CONSTRAINT impressions_click_class
    CHECK (click_class IN ('human', 'bot', 'preview', 'head', 'prefetch'));
