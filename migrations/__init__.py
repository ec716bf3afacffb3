"""Numbered SQL migrations, applied in order by ``tracker migrate`` (see tracker/store/migrate.py)."""
