"""Capacity of the day store (issue: >= 90 days of minute detail and >= 2 years of day summaries in
<= 128 KB of filesystem), in well under a minute: a short fill of a small littlefs under the real
MicroPython checks the block budget of docs/store-format.md ('Capacity and eviction'), and that
budget, applied to the record sizes of the same realistic days, gives the 128 KB figures. The full
760-day fills are `micropython benchmarks/store_sweep.py capacity 760 128 100` and `... 150`
(README)."""
import math

import pytest

from firmware import store
from test_store_powercut import run_micropython

BLOCK = 4096
# Blocks of a littlefs that never hold closed records (spec, 'Capacity and eviction'): the
# superblock/root metadata pair, the store directory's pair, the open record's base, and the copy
# of a pack being rewritten until the rename.
OVERHEAD_BLOCKS = 6


def packs_of(record_bytes):
    """Records per pack when the store appends them in order (a new pack when PACK_BYTES would be
    exceeded)."""
    packs = [[]]
    for size in record_bytes:
        if sum(packs[-1]) + size > store.PACK_BYTES:
            packs.append([])
        packs[-1].append(size)
    return [len(p) for p in packs]


@pytest.mark.parametrize("active_min, smallest, largest", [(100, 500, 560), (150, 590, 650)])
def test_a_short_fill_keeps_what_the_block_budget_says_and_128_kb_holds_90_active_days(
        micropython, active_min, smallest, largest):
    # 25 days of a wearer who walks active_min minutes a day (benchmarks/store_sweep.py ActiveDay:
    # 4-6 walks, worn fidgeting whose octave jumps minute to minute, 8 h on the nightstand), never
    # synced, in a 40 KB littlefs. Version 1 tokens made these days 917-957 and 1,098-1,142 bytes.
    out = run_micropython(micropython, "benchmarks/store_sweep.py", "capacity", "25", "40", str(active_min))
    sizes = out["detail_record_bytes"]  # each closed day's minutes record, as written
    assert len(sizes) == 24 and smallest <= min(sizes) and max(sizes) <= largest
    summary_packs = math.ceil(24 / (store.PACK_BYTES // out["summary_bytes_per_day"]))
    detail_packs = 40 * 1024 // BLOCK - OVERHEAD_BLOCKS - summary_packs
    # The store filled every block the budget leaves it with the newest days' minutes, kept every
    # summary, and counted the older minutes records it dropped.
    per_pack = packs_of(sizes)
    newest = range(len(per_pack) - detail_packs, len(per_pack))
    assert out["packs"] == ["d%05d" % n for n in newest] + ["s00000"]
    assert out["detail_days_kept"] == sum(per_pack[-detail_packs:]) >= 17
    assert out["summary_days_kept"] == 24 and out["report"]["lost_summary"] == 0
    assert out["report"]["lost_detail"] == 24 - out["detail_days_kept"]

    # The same budget at 128 KB after 760 days without a sync: 9 summary packs (all 760 summaries)
    # leave 17 packs of minutes, each full one holding as few of these days as the fill's full packs
    # did, and the newest, still filling, at worst one.
    summaries_760 = math.ceil(760 / (store.PACK_BYTES // out["summary_bytes_per_day"]))
    assert summaries_760 == 9
    days_per_pack = min(per_pack[:-1])
    detail_days = (128 * 1024 // BLOCK - OVERHEAD_BLOCKS - summaries_760 - 1) * days_per_pack + 1
    assert detail_days >= 90
