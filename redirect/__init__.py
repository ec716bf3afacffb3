"""The hot path: resolve a link, answer the redirect, hand the click to the sink."""
