"""What every bench prints and accepts: the machine line, the server options, lists."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path


def machine() -> str:
    """Cores this process may use, CPU model, Python, OS, the load average (other
    processes on the cores slow every figure: say how busy they were) and torch's threads
    when torch is loaded."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [
        f"{cores} cores",
        model,
        f"Python {platform.python_version()}",
        f"{platform.system()} {platform.release()}",
    ]
    if hasattr(os, "getloadavg"):
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    return ", ".join(parts)


def ints(text: str) -> list[int]:
    """A comma-separated option value, e.g. ``1,2``."""
    return [int(x) for x in text.split(",") if x.strip()]


def floats(text: str) -> list[float]:
    """A comma-separated option value, e.g. ``2,2.5``."""
    return [float(x) for x in text.split(",") if x.strip()]


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--kafka`` and ``--es``, defaulting to the variables `deploy/local/servers.sh env`
    prints; a part whose server has no address is skipped and says so."""
    parser.add_argument(
        "--kafka",
        default=os.environ.get("STORMWATCH_TEST_KAFKA"),
        help="Kafka bootstrap address (default: $STORMWATCH_TEST_KAFKA; none: skipped)",
    )
    parser.add_argument(
        "--es",
        default=os.environ.get("STORMWATCH_TEST_ES"),
        help="Elasticsearch URL (default: $STORMWATCH_TEST_ES; none: skipped)",
    )
