"""Management of advertisers, partners, offers and tracking links: create, read, update,
list (cursor pages, filters) and archive."""
