"""``dvid node <uuid> commit|log|note|status``: the version-node commands DVID offers only over HTTP
(``POST /api/node/<uuid>/commit`` ...), so the CLI covers the whole create-load-commit-branch
workflow. These names are reserved for instances, so ``node <uuid> <name> ...`` never collides."""

from __future__ import annotations

from dvid.errors import BadRequest
from dvid.server.state import ServerState

NODE_COMMANDS = ("commit", "log", "note", "status")


def run_node_command(st: ServerState, spec: str, action: str, words: list[str]) -> str:
    """``words`` are the raw arguments after the action (an ``=`` in a note is just text)."""
    ds = st.datastore
    ref = ds.resolve(spec)
    uuid = ref.uuid
    if action == "status":
        return _status(ref)
    if action in ("commit", "log", "note") and words and st.readonly:
        raise BadRequest("Server in read-only mode and will only accept GET and HEAD requestcs")
    if action == "commit":
        if ref.node.locked:
            raise BadRequest(f"node {uuid} is already committed; 'dvid repo {uuid} newversion' makes an open child")
        ds.commit(ref, " ".join(words))
        return (f"Committed node {uuid}" + (f' with note "{" ".join(words)}"' if words else "")
                + f"; 'dvid repo {uuid} newversion' or '... branch <name>' continues from it")
    if action == "note":
        if not words:
            return ref.node.note
        ds.set_node_note(ref, " ".join(words))
        return f"Note of node {uuid} set"
    if not words:  # log
        return "\n".join(ref.node.log) if ref.node.log else f"(node {uuid} has no log lines)"
    ds.append_node_log(ref, words)
    return f"Added {len(words)} line{'s' if len(words) != 1 else ''} to the log of node {uuid}"


def _status(ref) -> str:
    node, repo = ref.node, ref.repo
    by_version = repo.by_version()

    def uuids(ids: list[int]) -> str:
        return ", ".join(by_version[i].uuid for i in ids if i in by_version) or "none"

    lines = [f"node {node.uuid}: {'committed (locked)' if node.locked else 'open (accepts writes)'}",
             f"  repo      {repo.alias or '(no alias)'} (root {repo.root})",
             f"  branch    {node.branch or 'master'}",
             f"  parents   {uuids(node.parents)}",
             f"  children  {uuids(node.children)}"]
    if node.note:
        lines.append(f"  note      {node.note}")
    return "\n".join(lines)
