"""Commands that run without a server: ``serve`` and ``about``."""

from __future__ import annotations

import os
import sys

from dvid import DATASTORE_VERSION, __version__


def serve(args: list[str], flags: dict[str, str | bool]) -> int:
    from dvid.errors import DVIDError
    from dvid.server.config import load_config
    from dvid.server.serve import serve as run_server

    workers = None
    rest = []
    i = 0
    while i < len(args):
        if args[i] in ("--workers", "-workers") and i + 1 < len(args):
            workers = int(args[i + 1])
            i += 2
            continue
        if args[i].startswith(("--workers=", "-workers=")):
            workers = int(args[i].split("=", 1)[1])
        else:
            rest.append(args[i])
        i += 1
    if "workers" in flags:
        workers = int(str(flags["workers"]))
    try:
        cfg = load_config(rest[0] if rest else None)
    except DVIDError as e:
        print(f"dvid: {e}", file=sys.stderr)
        return 1
    if flags.get("readonly"):
        cfg.rw_mode = "readonly"
    elif flags.get("fullwrite"):
        cfg.rw_mode = "fullwrite"
    run_server(cfg, workers)
    return 0


def about() -> int:
    from dvid import storage
    from dvid.datatypes import registry

    types = registry.all_types()
    print(f"{'DVID (Python) version':<28} {__version__}")
    print(f"{'Datastore version':<28} {DATASTORE_VERSION}")
    engines = storage.available()
    print(f"{'Storage engines':<28} {engines[0]} (default), {', '.join(engines[1:])}")
    print(f"{'Cores':<28} {os.cpu_count()}")
    for name, dt in types.items():
        print(f"{name:<28} {dt.version}")
    return 0
