"""The ``dvid`` command: ``serve`` runs a server here; every other command goes to a running
server's command listener (``--rpc HOST:PORT``, DVID's ``-rpc=HOST:PORT``, default localhost:8001)."""

from __future__ import annotations

import sys

from dvid.cli import local, remote

USAGE = """usage: dvid [--rpc HOST:PORT] [--no-wait] <command> [args...]

Local commands:
  serve [CONFIG.toml] [--workers N]   run a server (no config: LMDB in ./dvid-data,
                                      HTTP localhost:8000, commands localhost:8001)
  about                               versions and compiled data types
  help                                this text

Commands sent to a running server (see 'dvid help server' for the full list):
  types, shutdown, repos new|delete, repo <uuid> new|branch|newversion|merge|rename|delete,
  node <uuid> <name> <command...> (e.g. load, put, roi), jobs, job <id>

  node <uuid> <name> put remote <plane> <x,y,z> <glob...>   upload files from this machine
                                      (--http URL selects the server's HTTP address)

Long commands (load, put, roi) run as server jobs; the CLI shows a progress bar until the job
ends (--no-wait returns at once; Ctrl-C stops watching, not the job).
"""


def parse_flags(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """Flags come before the command, as DVID requires; ``-rpc=x`` and ``--rpc x`` both work."""
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i].lstrip("-")
        if "=" in a:
            k, v = a.split("=", 1)
            flags[k] = v
        elif a in ("rpc", "http", "workers"):
            if i + 1 >= len(argv):
                raise SystemExit(f"dvid: flag -{a} needs a value")
            flags[a] = argv[i + 1]
            i += 1
        else:
            flags[a] = True
        i += 1
    return flags, argv[i:]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    flags, args = parse_flags(argv)
    if flags.get("h") or flags.get("help") or not args or (args[0] == "help" and len(args) == 1):
        print(USAGE)
        return 0
    cmd = args[0].lower()
    if cmd == "serve":
        return local.serve(args[1:], flags)
    if cmd == "about":
        return local.about()
    if cmd == "help" and args[1:] == ["server"]:
        args = ["help"]
    rpc = str(flags.get("rpc", "localhost:8001"))
    if len(args) >= 6 and args[0] == "node" and args[3] == "put" and args[4] == "remote":
        from dvid.cli.upload import put_remote

        if len(args) < 8:
            print("dvid: put remote needs <plane> <x,y,z> <glob...>", file=sys.stderr)
            return 1
        url = str(flags.get("http") or remote.http_url(rpc))
        return put_remote(url, args[1], args[2], args[5], args[6], args[7:])
    return remote.run(rpc, args, wait=not flags.get("no-wait"))


if __name__ == "__main__":
    sys.exit(main())
