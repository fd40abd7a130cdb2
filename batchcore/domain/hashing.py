"""The idempotency hash of a batch, byte for byte as the brief's JavaScript computes it.

```js
const dayBucket = Math.floor(Date.now() / 86400000);
const content = mode + JSON.stringify(rows) + dayBucket;
const hash = sha256(content);
```
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime, timezone

from batchcore.domain import clock
from batchcore.domain.rows import BatchRow

__all__ = ["batch_hash", "day_bucket", "rows_json"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def day_bucket(now: datetime | None = None) -> int:
    """``Math.floor(epoch_ms / 86400000)``: the UTC day number of ``now`` (default: now)."""
    moment = clock.moment(now)
    if moment.tzinfo is None:
        raise ValueError("batch_hash needs an aware datetime (UTC), not a naive one.")
    # timedelta normalises to whole days plus a non-negative remainder: .days is the floor.
    return (moment - _EPOCH).days


def rows_json(rows: Sequence[BatchRow]) -> str:
    """``JSON.stringify(rows)``: keys in order scene_id, prompt, variants(, ref_urls)."""
    payload = []
    for row in rows:
        item: dict[str, object] = {
            "scene_id": row.scene_id,
            "prompt": row.prompt,
            "variants": row.variants,
        }
        if row.ref_urls:
            item["ref_urls"] = list(row.ref_urls)
        payload.append(item)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    # JSON.stringify escapes lone surrogates as \udxxx (well-formed JSON.stringify).
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def batch_hash(mode: str, rows: Sequence[BatchRow], now: datetime | None = None) -> str:
    """SHA-256 hex of ``mode + JSON.stringify(rows) + dayBucket`` (``mode``: single|batch)."""
    content = f"{mode}{rows_json(rows)}{day_bucket(now)}"
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
