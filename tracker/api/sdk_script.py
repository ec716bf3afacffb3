"""The SDK script as served: its bytes, gzip form and version, computed once."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

SOURCE = (Path(__file__).parent / "static" / "sdk.js").read_bytes()
VERSION = hashlib.sha256(SOURCE).hexdigest()[:12]  # a new script, a new versioned URL
GZIPPED = gzip.compress(SOURCE, compresslevel=9, mtime=0)
ETAG = f'"{VERSION}"'
PATH = f"/sdk/{VERSION}.js"
