"""Speed-to-lead waits counted in fixed log-spaced buckets, and percentiles read back from the counts.

An exact percentile of a year of waits needs a sort of ~900,000 values (1.1 s on PostgreSQL, see
docs/benchmarks.md); counts per bucket add up across days, sites and partners instead. Bucket 0
holds waits under 0.1 s; bucket n >= 1 holds [0.1 s * 1.1^(n-1), 0.1 s * 1.1^n). A percentile is
reported as the geometric middle of the bucket holding the nearest-rank value, so it is within
sqrt(1.1) - 1 = 4.9 % of the exact nearest-rank value (and within 0.05 s below 0.1 s). 200 buckets
span 0.1 s to about 200 days; longer waits (none in practice) share the last bucket.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

SMALLEST = 0.1  # seconds
RATIO = 1.1
LAST = 200
PRECISION = math.sqrt(RATIO) - 1


def bucket_of(wait: timedelta | float) -> int:
    seconds = wait.total_seconds() if isinstance(wait, timedelta) else wait
    if seconds < SMALLEST:
        return 0
    return min(LAST, int(math.log(seconds / SMALLEST) / math.log(RATIO)) + 1)


def bucket_value(bucket: int) -> float:
    """The seconds a bucket stands for: the geometric middle of its bounds."""
    if bucket == 0:
        return SMALLEST / 2
    return SMALLEST * RATIO ** (bucket - 0.5)


def counts_add(total: Counter, buckets: dict) -> None:
    """Add a stored {"bucket": count} mapping (JSON keys are strings) to `total`."""
    for bucket, count in buckets.items():
        total[int(bucket)] += count


def nearest_rank(fraction: float, count: int) -> int:
    """The 1-based rank of the nearest-rank percentile among `count` sorted values (count >= 1)."""
    return max(1, -(-int(fraction * 100) * count // 100))


def percentile(counts: Counter, fraction: float) -> float | None:
    """The nearest-rank percentile (the same rank as dashboard/stats.py's exact one), approximated."""
    count = sum(counts.values())
    if not count:
        return None
    rank = nearest_rank(fraction, count)
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return round(bucket_value(bucket), 3)
    return None  # not reached: the counts add up to `count`
