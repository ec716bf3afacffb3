"""Public API models and the versioned wire format of stream entries (pydantic and stdlib only)."""
