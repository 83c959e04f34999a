"""Generate large Realtime event logs for the ingest benchmark.

Sessions modelled on the reference case (session events, VAD, transcription, transcript and
audio deltas, response.done with usage), written as envelopes one per line, repeated with
fresh ids until the file reaches the requested size. `--audio` keeps base64 audio deltas of
12,000 decoded bytes (0.25 s of PCM16 24 kHz); without it, audio deltas are left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from ingest.samples.reference_case import enveloped_events


def generate(path: Path, target_bytes: int, audio: bool) -> tuple[int, int]:
    """Write at least target_bytes of log; returns (bytes, events)."""
    template = [
        e
        for e in enveloped_events()
        if audio or e["event"]["type"] != "response.output_audio.delta"
    ]
    # Serialise once with placeholders, then substitute the session number per copy: fast and
    # every copy still has unique ids.
    lines = [orjson.dumps(e).decode() for e in template]
    written = events = 0
    with path.open("w", encoding="utf-8") as out:
        session = 0
        while written < target_bytes:
            session += 1
            tag = f"{session:08d}"
            block = (
                "\n".join(lines).replace("RefCase", f"S{tag}").replace("event_Ref", f"event_{tag}_")
            )
            block += "\n"
            out.write(block)
            written += len(block)
            events += len(lines)
    return written, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--audio", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    size, events = generate(args.path, args.megabytes << 20, args.audio)
    print(f"{args.path}: {size / 2**20:.0f} MiB, {events} events")


if __name__ == "__main__":
    main()
