"""How fast validate_entries checks a large map: ``python bench/bench_validate.py [N]``.

The map imitates a big real one: 200 alias domains, most aliases forwarding to one or
two mailboxes, one in ten pointing at another alias, one in twenty at a tagged address,
catch-alls, a loop and a few mistakes, so every check does real work. The best of three
runs is reported, as wall-clock time and as CPU time of this process (one core): on a
shared machine the wall clock also counts the time other programs held the CPU.
"""

from __future__ import annotations

import gc
import sys
import time

from aliasdesk.postfix.maps.validate import validate_entries
from aliasdesk.postfix.maps.virtual import Entry


def make_entries(count: int) -> list[Entry]:
    """A deterministic map of about ``count`` entries (no randomness: runs are comparable)."""
    entries = []
    for i in range(count):
        key = f"user{i}@d{i % 200}.example"
        kind = i % 20
        if kind < 13:
            value = f"u{i}@mail{i % 20}.example"
        elif kind < 17:
            value = f"first.last{i}@corp.example, backup{i}@mail.example"
        elif kind < 18:
            value = f"list+tag{i}@lists.example"
        else:
            target = i + 1 + (i * 31) % 1000
            value = f"user{target}@d{target % 200}.example" if target < count else f"end{i}@mail.example"
        entries.append(Entry(key, value, True, "", i + 1))
    for k in range(0, 200, 10):
        entries.append(Entry(f"@d{k}.example", "catchall@mail.example", True, "", count + k + 1))
    entries += [
        Entry("loop-a@d1.example", "loop-b@d1.example", True, "", count + 300),
        Entry("loop-b@d1.example", "loop-a@d1.example", True, "", count + 301),
        Entry("note@d1.example", "a@mail.example # ticket 42", True, "", count + 302),
        Entry("bad@d1.example", "x@exa_mple.com", True, "", count + 303),
    ]
    return entries


def bench_validate(count: int = 500_000, runs: int = 3) -> float:
    """Validate ``count`` entries ``runs`` times; print and return the best CPU time in seconds."""
    entries = make_entries(count)
    validate_entries(entries[:10_000])  # warm up caches and lazy imports
    gc.collect()  # the entries came from elsewhere: do not bill their garbage collection here
    best_wall = best_cpu = float("inf")
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        findings = validate_entries(entries)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    print(f"validate_entries: {len(entries):,} entries, {len(findings)} findings; best of {runs}: "
          f"{best_cpu:.3f} s CPU = {len(entries) / best_cpu:,.0f} entries/s, {best_wall:.3f} s wall clock")
    return best_cpu


if __name__ == "__main__":
    bench_validate(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000)
