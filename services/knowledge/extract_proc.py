"""The text extractor as a child process: `python -m services.knowledge.extract_proc PATH KIND MEMORY_BYTES`.

Ingestion (`services.knowledge.ingest`) runs it so a hostile or broken document cannot hang or exhaust the
server: the parent kills it after a time limit, and it limits its own address space before it reads anything.
It prints the sections as JSON lines on stdout; exit code 3 means "refused", with the user-facing reason on
stderr; anything else non-zero is a crash (the parent logs stderr and shows a generic reason).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    path, kind, memory = Path(argv[0]), argv[1], int(argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from services.knowledge.extract import ExtractError, extract

    try:
        sections = extract(path, kind)
    except ExtractError as exc:
        sys.stderr.write(str(exc))
        return 3
    except MemoryError:
        sys.stderr.write(
            "The file needs more memory to read than the server allows: split it or simplify it."
        )
        return 3
    out = sys.stdout
    for s in sections:
        out.write(json.dumps({"text": s.text, "page": s.page, "heading": s.heading}, ensure_ascii=False))
        out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
