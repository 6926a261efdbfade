"""Commands that run without a server: ``serve`` and ``about``."""

from __future__ import annotations

import argparse
import os
import sys

from dvid import DATASTORE_VERSION, __version__


def serve(argv: list[str], top: argparse.Namespace, flags: argparse.ArgumentParser) -> int:
    """``dvid serve [CONFIG.toml] [--workers N] [flags]``: exit 2 with one line if it cannot start."""
    from dvid.server.config import ConfigError, load_config
    from dvid.server.serve import StartupError
    from dvid.server.serve import serve as run_server

    p = argparse.ArgumentParser(
        prog="dvid serve", parents=[flags],
        description="Run a DVID-compatible server. With no CONFIG: an LMDB store in ./dvid-data, "
                    "HTTP on localhost:8000, commands on localhost:8001.")
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="a DVID-style TOML configuration file")
    p.add_argument("-workers", "--workers", type=int, metavar="N",
                   help="HTTP worker processes (default [server] workers, else one per core)")
    ns = p.parse_args(argv)
    try:
        cfg = load_config(ns.config)
    except ConfigError as e:
        print(f"dvid: {e}", file=sys.stderr)
        return 2
    if ns.workers is not None and ns.workers < 1:
        print("dvid: --workers must be at least 1", file=sys.stderr)
        return 2
    if ns.readonly or top.readonly:
        cfg.rw_mode = "readonly"
    elif ns.fullwrite or top.fullwrite:
        cfg.rw_mode = "fullwrite"
    if ns.quiet or top.quiet:
        cfg.log.access_log = False
        cfg.log.level = "warning"
    if ns.verbose or top.verbose:
        cfg.log.level = "debug"
    if cfg.log.logfile:  # the log goes to a file: the terminal still hears about typos
        for w in cfg.warnings:
            print(f"dvid: warning: {w}", file=sys.stderr)
    try:
        run_server(cfg, ns.workers)
    except StartupError as e:
        print(f"dvid: {e}", file=sys.stderr)
        return 2
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
