"""Stream consumers: clicks and conversions from Redis into Postgres, exactly once."""
