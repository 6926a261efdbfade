"""The command channel's commands (core.md §7): what ``dvid <command>`` asks a running server.

Each command returns ``CommandResult`` text (DVID's reply texts) and, for long work, a job id the
CLI follows with a progress bar.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

from dvid.datastore import migrate
from dvid.datatypes import registry
from dvid.errors import BadRequest
from dvid.server.context import ServerContext
from dvid.server.node_commands import NODE_COMMANDS, run_node_command
from dvid.server.state import ServerState
from dvid.server.stores import migrate_job
from dvid.server.suggest import instance_note


@dataclass
class CommandResult:
    text: str
    job: str | None = None


RPC_HELP = """Commands accepted by this server (send with: dvid [--rpc HOST:PORT] <command>):

  help                                        this text
  types                                       data types in use
  shutdown                                    stop the server
  repos new <alias> <description> [uuid=<uuid>] [passcode=<p>]
  repos delete <root uuid> [passcode]
  repo <uuid> new <type> <name> [Key=Value ...]
  repo <uuid> branch <name> [<child uuid>]
  repo <uuid> newversion [<child uuid>]
  repo <uuid> merge <uuid2> [<uuid3> ...]
  repo <uuid> rename <old name> <new name> [passcode]
  repo <uuid> delete <name or data uuid> [passcode]
  repo <uuid> migrate <name> <src store> <dst store> [delete-source=true]
                                              copy every version of an instance to another store
                                              (a job), verify it, then serve it from there
  repo <uuid> checksum <name> [store]         sha256 per version of the instance's data on a store
  node <uuid> commit [note]                   commit (lock) a node; then newversion or branch
  node <uuid> log [line ...]                  show or append to a node's log
  node <uuid> note [text]                     show or set a node's note
  node <uuid> status                          committed or open, branch, parents, children
  node <uuid> <name> help
  node <uuid> <name> <datatype command ...>   e.g. load, put, roi for image instances
  jobs                                        JSON list of long-running jobs
  job <id>                                    JSON record of one job

HTTP API on {http}; commands on {rpc}.
"""


def split_settings(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Arguments with exactly one '=' are settings (keys lower-cased), the rest positional."""
    pos: list[str] = []
    settings: dict[str, str] = {}
    for a in args:
        if a.count("=") == 1:
            k, v = a.split("=")
            settings[k.lower()] = v
        else:
            pos.append(a)
    return pos, settings


def run_command(st: ServerState, args: list[str], shutdown: Callable[[], None] = lambda: None) -> CommandResult:
    st.datastore.refresh()
    pos, settings = split_settings(args)
    if not pos:
        raise BadRequest("no command given")
    cmd = pos[0].lower()
    ds = st.datastore
    if cmd == "help":
        return CommandResult(RPC_HELP.format(http=st.config.http_address, rpc=st.config.rpc_address))
    if cmd == "shutdown":
        shutdown()
        return CommandResult(f"DVID server at {st.config.rpc_address} is being shutdown...")
    if cmd == "types":
        if len(pos) >= 3 and pos[2] == "help":
            dt = registry.get(pos[1])
            if dt is None:
                raise BadRequest(f'Data type "{pos[1]}" is not supported by current DVID server')
            return CommandResult(dt.help())
        types = registry.all_types()
        lines = ["Data Types within this DVID Server", "----------------------------------"]
        lines += [f"{n:<20} {types[n].url}" for n in sorted(ds.types_in_use()) if n in types]
        return CommandResult("\n".join(lines) + "\n")
    if cmd == "address":
        return CommandResult(st.config.http_address)
    if cmd == "jobs":
        return CommandResult(json.dumps(st.jobs.list()))
    if cmd == "job":
        if len(pos) < 2:
            raise BadRequest("job needs a job id")
        rec = st.jobs.get(pos[1])
        if rec is None:
            raise BadRequest(f'no job with id "{pos[1]}"')
        return CommandResult(json.dumps(rec))
    if cmd == "repos":
        return _repos(st, pos, settings)
    if cmd == "repo":
        return _repo(st, pos, settings, args)
    if cmd == "node":
        return _node(st, pos, settings, args)
    raise BadRequest(f"Unknown command: '{pos[0]}'")


def _repos(st: ServerState, pos: list[str], settings: dict[str, str]) -> CommandResult:
    sub = pos[1].lower() if len(pos) > 1 else ""
    if sub == "new":
        if len(pos) < 4:
            raise BadRequest("repos new needs <alias> <description>")
        if st.readonly:
            raise BadRequest("Cannot create repos in read-only mode")
        repo = st.datastore.new_repo(pos[2], pos[3], root=settings.get("uuid") or None,
                                     passcode=settings.get("passcode", ""))
        return CommandResult(f'New repo "{pos[2]}" created with head node {repo.root}')
    if sub == "delete":
        if len(pos) < 3:
            raise BadRequest("repos delete needs the root UUID of the repo")
        ref = st.datastore.resolve(pos[2])
        if ref.uuid != ref.repo.root:
            raise BadRequest("UUID for repo deletion must match UUID of repo's root")
        st.datastore.delete_repo(ref.repo.root, pos[3] if len(pos) > 3 else "")
        return CommandResult(f"Started deletion of repo {ref.repo.root}.")
    raise BadRequest(f"Unknown command: 'repos {sub}'")


def _repo(st: ServerState, pos: list[str], settings: dict[str, str], args: list[str]) -> CommandResult:
    if len(pos) < 3:
        raise BadRequest("repo command needs <uuid> <subcommand>")
    if st.readonly:
        raise BadRequest("Server in read-only mode and will only accept GET and HEAD requestcs")
    ds = st.datastore
    ref = ds.resolve(pos[1])
    sub = pos[2].lower()
    cmdline = "dvid " + " ".join(args)
    if sub == "new":
        if len(pos) < 5:
            raise BadRequest("repo new needs <type> <name>")
        typename, name = pos[3], pos[4]
        ds.new_instance(ref, typename, name, dict(settings), check_lock=False)
        ds.append_repo_log(ref, [cmdline])
        note = instance_note(typename, name, ref.uuid, [a.split("=")[0] for a in args if a.count("=") == 1])
        return CommandResult(f'Data "{name}" [{typename}] added to node {ref.uuid}' + (f"\nwarning: {note}" if note else ""))
    if sub in ("branch", "newversion"):
        if sub == "branch":
            if len(pos) < 4:
                raise BadRequest("repo branch needs a branch name")
            name = pos[3]
            if name in ("", "master"):
                return CommandResult("")
            child = ds.branch(ref, name, f"branch of {ref.uuid}", pos[4] if len(pos) > 4 else None)
        else:
            child = ds.new_version(ref, "", pos[3] if len(pos) > 3 else None)
        ds.append_repo_log(ref, [cmdline])
        return CommandResult(f"Branch {child} added to node {ref.uuid}")
    if sub == "merge":
        if len(pos) < 4:
            raise BadRequest("repo merge needs at least one more UUID")
        parents = [ref.uuid] + pos[3:]
        child = ds.merge(ref, parents, "")
        ds.append_repo_log(ref, [cmdline])
        return CommandResult(f"Parents [{' '.join(parents)}] merged into node {child}")
    if sub == "rename":
        if len(pos) < 5:
            raise BadRequest("repo rename needs <old name> <new name>")
        ds.rename_instance(ref, pos[3], pos[4], pos[5] if len(pos) > 5 else "")
        return CommandResult(f'Renamed data instance "{pos[3]}" to "{pos[4]}" from DAG subgraph @ root {ref.repo.root}')
    if sub == "migrate":
        if len(pos) < 6:
            raise BadRequest("repo migrate needs <instance name> <source store> <destination store>")
        name, src, dst = pos[3], pos[4], pos[5]
        work = migrate_job(st, ref, name, src, dst, settings.get("delete-source", "").lower() in ("true", "1", "yes"))
        job = st.jobs.create(cmdline, node=ref.uuid, instance=name)
        st.jobs.start(job, work)
        ds.append_repo_log(ref, [cmdline])
        return CommandResult(f'Started migration of uuid {ref.uuid} data instance "{name}" from store "{src}" to '
                             f'store "{dst}" (job {job.id})', job.id)
    if sub == "checksum":
        if len(pos) < 4:
            raise BadRequest("repo checksum needs <instance name> [store]")
        inst = ds.instance(ref, pos[3])
        alias = pos[4] if len(pos) > 4 else st.stores.alias_for(inst)
        st.stores.check_kv(alias)
        engine = st.stores.engine_for(dataclasses.replace(inst, store=alias))
        sums = migrate.digests(engine, inst.instance_id)
        return CommandResult(json.dumps({"instance": inst.name, "store": alias,
                                         "versions": {str(v): d for v, d in sums.items()}}))
    if sub == "delete":
        if len(pos) < 4:
            raise BadRequest("repo delete needs <name or data uuid>")
        ds.delete_instance(ref, pos[3], pos[4] if len(pos) > 4 else "")
        return CommandResult(f'Started deletion of data instance "{pos[3]}" from repo with root {ref.repo.root}')
    raise BadRequest(f"Unknown command: 'repo {sub}'")


def _node(st: ServerState, pos: list[str], settings: dict[str, str], args: list[str]) -> CommandResult:
    if len(args) >= 3 and args[2].lower() in NODE_COMMANDS and not (args[2].lower() == "status" and len(args) > 3):
        return CommandResult(run_node_command(st, args[1], args[2].lower(), args[3:]))
    if len(pos) < 4:
        raise BadRequest("node command needs <uuid> <data name> <command...>")
    ds = st.datastore
    ref = ds.resolve(pos[1])
    inst = ds.instance(ref, pos[2])
    dt = registry.get(inst.typename)
    if dt is None:
        raise BadRequest(f'Data type "{inst.typename}" is not supported by current DVID server')
    sub = pos[3:]
    if sub[0].lower() == "help":
        return CommandResult(dt.help())
    if st.readonly:
        raise BadRequest("Server in read-only mode and will only accept GET and HEAD requestcs")
    if inst.migrating and sub[0].lower() != "export":
        raise BadRequest(f'data instance "{inst.name}" is being migrated to store "{inst.migrating}": '
                         "writes resume when the migration job is done")
    if inst.versioned and ref.node.locked and not st.fullwrite and sub[0].lower() != "export":
        raise BadRequest(f"Cannot run '{sub[0]}' on data at committed node {ref.uuid}: committed versions are "
                         "immutable (create a new version first)")
    ctx = ServerContext(st, ref, inst)
    text = dt.command(ctx, sub, settings)
    job = ctx.last_job
    return CommandResult(text, job.id if job is not None else None)
