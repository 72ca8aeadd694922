"""``make bench``: run every benchmark in one process and record the results.

Each ``benchmarks/bench_*.py`` module has a ``main()`` that prints a markdown section (tables of
ratios measured in that one run). This runner prints them, and writes them with a description of
the machine to ``benchmarks/RESULTS.md``. Run one alone with ``python -m benchmarks bench_exact``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    """A short description of the machine the numbers were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; GPU: {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); {platform.system()} {platform.release()}"
    )


def main(argv: list[str]) -> None:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    sections = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        buffer = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(buffer):
            module.main()
        text = buffer.getvalue().strip()
        print(text, f"\n\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
        sections.append(text)
    if argv:  # a partial run does not overwrite the full record
        return
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` on {stamp}.\n\n"
        f"Machine: {machine()}.\n\n"
        "Every ratio in a table was measured in the same run, on this machine.\n"
    )
    (HERE / "RESULTS.md").write_text(header + "\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
