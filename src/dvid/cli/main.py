"""The ``dvid`` command: ``serve`` runs a server here; every other command goes to a running
server's command listener (``--rpc HOST:PORT``, DVID's ``-rpc=HOST:PORT``, default localhost:8001).

Flags come before the command, as with DVID's Go binary (argparse accepts both ``-rpc=x`` and
``--rpc x``); everything after the command is passed on untouched, so offsets like ``-5,3,40`` and
``Key=Value`` settings reach the server as typed.
"""

from __future__ import annotations

import argparse
import os
import sys

from dvid import DATASTORE_VERSION, __version__
from dvid.cli import local, remote

COMMANDS = """Local commands:
  serve [CONFIG.toml] [--workers N]   run a server ('dvid serve --help')
  about                               versions and compiled data types
  help                                this text

Commands sent to a running server ('dvid help server' lists them all):
  types, shutdown, repos new|delete, repo <uuid> new|branch|newversion|merge|rename|delete,
  node <uuid> commit [note] | log [line...] | note [text] | status
  node <uuid> <name> <command...>     e.g. load, put, roi, export, import
  jobs, job <id>                      long-running jobs (--json for the raw records)

  node <uuid> <name> put remote <plane> <x,y,z> <glob...>   upload files from this machine
                                      (--http URL selects the server's HTTP address)

Long commands (load, put, roi, export) run as server jobs; the CLI shows a progress bar until the
job ends (--no-wait returns at once; Ctrl-C stops watching, not the job).
"""


def server_flags() -> argparse.ArgumentParser:
    """Flags of ``serve`` that DVID users put before the command (``dvid -verbose serve x.toml``)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("server flags (also accepted before 'serve')")
    g.add_argument("-verbose", "--verbose", action="store_true", help="log at debug level")
    g.add_argument("-quiet", "--quiet", action="store_true",
                   help="no access log, warnings and errors only (for benchmarks)")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("-readonly", "--readonly", action="store_true", help="refuse every change")
    mode.add_argument("-fullwrite", "--fullwrite", action="store_true", help="allow writes on committed nodes")
    return p


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dvid", parents=[server_flags()], formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="dvid [flags] <command> [args...]", epilog=COMMANDS,
        description="A DVID-compatible, versioned image-block data service.")
    p.add_argument("-version", "--version", action="version",
                   version=f"dvid {__version__} (Python; datastore {DATASTORE_VERSION})")
    p.add_argument("-rpc", "--rpc", default=os.environ.get("DVID_RPC", "localhost:8001"), metavar="HOST:PORT",
                   help="command address of the server (default $DVID_RPC, else localhost:8001)")
    p.add_argument("-http", "--http", metavar="URL", help="HTTP address of the server for 'put remote' "
                   "(default: asked from the server)")
    p.add_argument("-no-wait", "--no-wait", dest="no_wait", action="store_true",
                   help="do not follow a started job")
    p.add_argument("-json", "--json", action="store_true", help="'jobs' and 'job' print JSON records")
    p.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)
    cmd = (ns.command or "").lower()
    if not cmd or (cmd == "help" and not ns.args):
        parser.print_help()
        return 0
    if cmd == "serve":
        return local.serve(ns.args, ns, server_flags())
    if cmd == "about":
        return local.about()
    args = [ns.command, *ns.args]
    if cmd == "help" and ns.args == ["server"]:
        args = ["help"]
    if len(args) >= 5 and args[0] == "node" and args[3] == "put" and args[4] == "remote":
        from dvid.cli.upload import put_remote

        if len(args) < 8:
            print("dvid: put remote needs <plane> <x,y,z> <glob...>", file=sys.stderr)
            return 1
        url = ns.http or remote.http_url(ns.rpc)
        return put_remote(url, args[1], args[2], args[5], args[6], args[7:])
    return remote.run(ns.rpc, args, wait=not ns.no_wait, as_json=ns.json)


if __name__ == "__main__":
    sys.exit(main())
