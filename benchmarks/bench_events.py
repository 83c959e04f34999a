"""Benchmark `python -m ingest events` against a DuckDB one-liner on the same files, same run.

Generates an audio-heavy log (base64 audio deltas, the shape of real Realtime logs) and an
audio-free log at two sizes each, then lands every file with

  ingest  : python -m ingest events FILE --landing <fresh dir>          (default workers)
  duckdb  : duckdb -c "COPY (SELECT <the same fields> FROM read_json(FILE)) TO 'x.parquet'"

and prints a table: MB/s, events/s, and peak resident memory of the whole process tree (sampled
from /proc every 20 ms). Writes the table to benchmarks/results/events.md.

    python benchmarks/bench_events.py [--audio-mb 1100] [--plain-mb 512] [--workdir /tmp/x]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate_events import generate  # noqa: E402

BIN = Path(sys.executable).parent
ONE_LINER = """
COPY (
  SELECT
    received_at::TIMESTAMPTZ AS received_at, lower(resource) AS resource_name,
    deployment AS deployment_name, direction,
    event->>'$.type' AS event_type, event->>'$.event_id' AS event_id,
    coalesce(event->>'$.response.id', event->>'$.response_id') AS response_id,
    event->>'$.response.status' AS response_status,
    event->>'$.response.conversation_id' AS conversation_id,
    coalesce(event->>'$.item_id', event->>'$.item.id') AS item_id,
    event->>'$.previous_item_id' AS previous_item_id,
    event->>'$.session.id' AS session_id, event->>'$.session.model' AS session_model,
    event->>'$.session.audio.input.transcription.model' AS transcription_model,
    event->>'$.session.audio.output.format.type' AS output_audio_format,
    (event->>'$.session.audio.output.format.rate')::BIGINT AS output_audio_rate,
    (event->>'$.response.usage.total_tokens')::BIGINT AS total_tokens,
    (event->>'$.response.usage.input_tokens')::BIGINT AS input_tokens,
    (event->>'$.response.usage.output_tokens')::BIGINT AS output_tokens,
    (event->>'$.response.usage.input_token_details.text_tokens')::BIGINT AS input_text_tokens,
    (event->>'$.response.usage.input_token_details.audio_tokens')::BIGINT AS input_audio_tokens,
    (event->>'$.response.usage.input_token_details.cached_tokens')::BIGINT AS cached_tokens,
    (event->>'$.response.usage.input_token_details.cached_tokens_details.text_tokens')::BIGINT
      AS cached_text_tokens,
    (event->>'$.response.usage.input_token_details.cached_tokens_details.audio_tokens')::BIGINT
      AS cached_audio_tokens,
    (event->>'$.response.usage.output_token_details.text_tokens')::BIGINT AS output_text_tokens,
    (event->>'$.response.usage.output_token_details.audio_tokens')::BIGINT AS output_audio_tokens,
    (event->>'$.usage.seconds')::DOUBLE AS usage_seconds,
    (event->>'$.audio_start_ms')::BIGINT AS audio_start_ms,
    (event->>'$.audio_end_ms')::BIGINT AS audio_end_ms,
    length(event->>'$.delta') // 4 * 3 AS audio_payload_bytes,
    event->>'$.error.message' AS error_message,
    CASE WHEN event->>'$.type' = 'response.output_audio.delta' THEN NULL
         ELSE event::VARCHAR END AS event_json
  FROM read_json('{input}', format = 'newline_delimited', maximum_object_size = 67108864,
       columns = {{received_at: 'VARCHAR', resource: 'VARCHAR', deployment: 'VARCHAR',
                  direction: 'VARCHAR', event: 'JSON'}})
) TO '{output}' (FORMAT parquet, COMPRESSION zstd);
"""


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(cmd: list[str], **kwargs) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes of the process tree) of a command that must succeed."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {err.decode()[-2000:]}")
    return seconds, peak


@dataclass
class Row:
    log: str
    megabytes: float
    events: int
    tool: str
    seconds: float
    peak_bytes: int

    def cells(self) -> list[str]:
        return [
            self.log,
            f"{self.megabytes:,.0f}",
            f"{self.events:,}",
            self.tool,
            f"{self.seconds:.1f}",
            f"{self.megabytes / self.seconds:,.0f}",
            f"{self.events / self.seconds:,.0f}",
            f"{self.peak_bytes / 2**20:,.0f}",
        ]


HEADER = ["log", "MB", "events", "tool", "seconds", "MB/s", "events/s", "peak RSS MB"]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def run(workdir: Path, sizes: list[tuple[str, int, bool]]) -> list[Row]:
    rows: list[Row] = []
    for label, megabytes, audio in sizes:
        log = workdir / f"{label}.jsonl"
        size, events = generate(log, megabytes << 20, audio)
        mb = size / 2**20
        landing = workdir / f"landing-{label}"
        shutil.rmtree(landing, ignore_errors=True)
        seconds, peak = measure(
            [str(BIN / "python"), "-m", "ingest", "events", str(log), "--landing", str(landing)],
            cwd=ROOT,
        )
        rows.append(Row(label, mb, events, "ingest events", seconds, peak))
        out = workdir / f"{label}.duckdb.parquet"
        sql = ONE_LINER.format(input=log, output=out)
        seconds, peak = measure([str(BIN / "duckdb"), "-c", sql])
        rows.append(Row(label, mb, events, "duckdb one-liner", seconds, peak))
        print(table(rows[-2:]).splitlines()[-2:][0], flush=True)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        log.unlink()
        out.unlink(missing_ok=True)
        shutil.rmtree(landing, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--audio-mb", type=int, default=1100, help="large audio-heavy log (MB)")
    parser.add_argument("--plain-mb", type=int, default=512, help="large audio-free log (MB)")
    parser.add_argument("--workdir", type=Path, default=None, help="where logs are generated")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "events.md")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tokenrecon-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [
        ("audio-heavy", args.audio_mb // 4, True),
        ("audio-heavy", args.audio_mb, True),
        ("audio-free", args.plain_mb // 4, False),
        ("audio-free", args.plain_mb, False),
    ]
    rows = run(workdir, sizes)
    result = table(rows)
    print(result)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# `ingest events` vs a DuckDB one-liner\n\n"
        f"Generated by `make bench-events` ({machine}). Each log is landed by both tools in the "
        "same run; peak RSS is the whole process tree (ingest's parser processes included).\n\n"
        f"{result}\n"
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
