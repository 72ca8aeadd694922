"""``make bench``: run every benchmark in one process and record the results.

Each ``benchmarks/bench_*.py`` module has a ``main()`` that prints a markdown section (tables of
ratios measured in that one run). This runner prints them, and writes them with a description of
the machine to ``benchmarks/RESULTS.md``. ``python -m benchmarks bench_exact`` re-runs one benchmark and
replaces only its section of the file.
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


SECTION = "<!-- section: {name} -->"
HEADER = (
    "# Benchmark results\n\n"
    "Written by `make bench` (`python -m benchmarks`); `python -m benchmarks bench_x` re-measures one\n"
    "section and replaces only that one. Every ratio in a table was measured in the same run, on the\n"
    "machine named at the top of its section. Sections named `record_*` are written by hand (a run on a\n"
    "lent GPU, notes on measurements outside the tables) and kept by every run.\n"
)


def read_sections(path: Path) -> dict[str, str]:
    """The sections of an existing RESULTS.md, by benchmark name (empty if there is none)."""
    if not path.exists():
        return {}
    sections: dict[str, str] = {}
    name = None
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("<!-- section: ") and line.rstrip().endswith(" -->"):
            name = line.strip()[len("<!-- section: "):-len(" -->")]
            sections[name] = ""
        elif name is not None:
            sections[name] += line
    return {k: v.strip() for k, v in sections.items()}


def main(argv: list[str]) -> None:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    results = HERE / "RESULTS.md"
    # a full run rewrites every bench_* section (dropping those of benchmarks that are gone); sections named
    # record_* are hand-written records (a GPU run on a lent machine, notes) and are always kept
    old = read_sections(results)
    sections = old if argv else {k: v for k, v in old.items() if k.startswith("record_")}
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        buffer = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(buffer):
            module.main()
        elapsed = time.perf_counter() - start
        text = buffer.getvalue().strip()
        print(text, f"\n\n({name}: {elapsed:.0f} s)\n", flush=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        sections[name] = f"_Measured {stamp} in {elapsed:.0f} s on: {machine()}._\n\n{text}"
    body = "\n\n".join(f"{SECTION.format(name=n)}\n{sections[n]}" for n in sorted(sections))
    results.write_text(HEADER + "\n" + body + "\n")
    print(f"wrote {results}")


if __name__ == "__main__":
    main(sys.argv[1:])
