"""Server configuration in DVID's TOML shape (core.md §6), read with tomllib.

Keys are matched case-insensitively like DVID's TOML decoding; relative store paths are resolved
against the config file's directory. With no file: LMDB in ./dvid-data, HTTP on localhost:8000,
commands on localhost:8001.
"""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dvid.errors import BadRequest
from dvid.limits import CONFIG_KEYS, Limits

#: DVID's Go engines that an existing DVID config may name; they are served by the embedded LMDB engine.
DVID_ENGINE_ALIASES = ("badger", "basholeveldb", "leveldb", "filestore")


@dataclass
class StoreConfig:
    alias: str
    engine: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    http_address: str = "localhost:8000"
    rpc_address: str = "localhost:8001"
    host: str = ""
    note: str = ""
    cors_domains: list[str] = field(default_factory=lambda: ["*"])
    rw_mode: str = ""  # "", "readonly", "fullwrite"
    admin_token: str = ""
    admin_required_for_repo_creation: bool = False
    workers: int = 0  # 0 = one per core
    instance_id_gen: str = "sequential"
    instance_id_start: int = 1
    min_mutation_id_start: int = 0
    access_log: bool = False
    #: bounds on every request's work (``dvid.limits``), each a ``[server]`` key
    limits: Limits = field(default_factory=Limits)
    toml_path: str = ""
    web_client: str = ""  # a directory served for non-API paths instead of the built-in console
    web_default_file: str = ""  # served (200) for a missing file under web_client
    web_redirect_path: str = ""  # else a 308 to this path for a missing file
    default_store: str = "default"
    metadata_store: str = ""
    stores: dict[str, StoreConfig] = field(default_factory=dict)
    run_dir: str = ""

    def store(self, alias: str | None = None) -> StoreConfig:
        name = alias or self.default_store
        if name not in self.stores:
            raise BadRequest(f"no store named {name!r} in the configuration")
        return self.stores[name]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Config:
        d = json.loads(text)
        d["stores"] = {k: StoreConfig(**v) for k, v in d["stores"].items()}
        d["limits"] = Limits(**d["limits"])
        return cls(**d)


def _lower(d: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): (_lower(v) if isinstance(v, dict) else v) for k, v in d.items()}


def _limits(srv: dict[str, Any]) -> Limits:
    """The ``[server]`` limit keys (``dvid.limits.CONFIG_KEYS``), each a positive number."""
    values: dict[str, Any] = {}
    for name, key in CONFIG_KEYS.items():
        if key.lower() not in srv:
            continue
        v = srv[key.lower()]
        kind = type(getattr(Limits(), name))
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)) \
                or v <= 0:
            raise BadRequest(f"[server] {key} must be a positive {'integer' if kind is int else 'number'}, "
                             f"not {v!r}")
        values[name] = kind(v)
    return Limits(**values)


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read a DVID-style TOML file (or return the defaults when ``path`` is None)."""
    cfg = Config()
    if path is None:
        cfg.stores["default"] = StoreConfig("default", "lmdb", {"path": os.path.abspath("dvid-data")})
        cfg.admin_token = os.environ.get("DVID_ADMIN_TOKEN", "")
        return cfg
    p = Path(path).resolve()
    try:
        doc = _lower(tomllib.loads(p.read_text()))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BadRequest(f"cannot read configuration {p}: {e}") from e
    base = p.parent
    cfg.toml_path = str(p)
    srv = doc.get("server", {})
    cfg.http_address = str(srv.get("httpaddress", cfg.http_address))
    cfg.rpc_address = str(srv.get("rpcaddress", cfg.rpc_address))
    cfg.host = str(srv.get("host", ""))
    cfg.note = str(srv.get("note", ""))
    if "corsdomains" in srv:
        cd = srv["corsdomains"]
        cfg.cors_domains = [cd] if isinstance(cd, str) else [str(x) for x in cd]
    cfg.rw_mode = str(srv.get("rwmode", "")).lower()
    if cfg.rw_mode not in ("", "readonly", "fullwrite"):
        raise BadRequest(f"rwMode must be \"readonly\" or \"fullwrite\", not {cfg.rw_mode!r}")
    cfg.admin_token = str(srv.get("admintoken", "")) or os.environ.get("DVID_ADMIN_TOKEN", "")
    cfg.admin_required_for_repo_creation = bool(srv.get("adminrequiredforrepocreation", False))
    cfg.workers = int(srv.get("workers", 0))
    cfg.instance_id_gen = str(srv.get("instance_id_gen", "sequential"))
    cfg.instance_id_start = int(srv.get("instance_id_start", 1))
    cfg.min_mutation_id_start = int(srv.get("min_mutation_id_start", 0))
    cfg.access_log = bool(srv.get("accesslog", False))
    cfg.limits = _limits(srv)
    if srv.get("webclient"):
        cfg.web_client = str((base / str(srv["webclient"])).resolve())
    cfg.web_default_file = str(srv.get("webdefaultfile", ""))
    cfg.web_redirect_path = str(srv.get("webredirectpath", ""))
    for alias, sect in doc.get("store", {}).items():
        if "engine" not in sect:
            raise BadRequest(f"store {alias!r} has no engine")
        opts = {k: v for k, v in sect.items() if k != "engine"}
        for key in ("path", "ref"):
            if key in opts and "://" not in str(opts[key]):
                opts[key] = str((base / str(opts[key])).resolve())
        engine = str(sect["engine"]).lower()
        if engine in DVID_ENGINE_ALIASES:
            warnings.warn(f"store {alias!r}: engine {engine!r} is served by the embedded LMDB engine", stacklevel=2)
            engine = "lmdb"
        cfg.stores[alias] = StoreConfig(alias, engine, opts)
    backend = doc.get("backend", {})
    default = backend.get("default", {}).get("store")
    kv_stores = [a for a, sc in cfg.stores.items() if sc.engine != "ngprecomputed"]
    if default:
        cfg.default_store = str(default)
    elif len(kv_stores) == 1:
        cfg.default_store = kv_stores[0]
    elif not kv_stores:
        cfg.stores["default"] = StoreConfig("default", "lmdb", {"path": str((base / "dvid-data").resolve())})
    else:
        raise BadRequest("if no default backend specified, must have exactly one store defined in config file")
    if cfg.default_store not in cfg.stores:
        raise BadRequest(f"default store {cfg.default_store!r} is not defined in [store]")
    if cfg.stores[cfg.default_store].engine == "ngprecomputed":
        raise BadRequest("the default store must be a key-value store, not a read-only ngprecomputed volume")
    for alias, sc in cfg.stores.items():
        if sc.engine == "ngprecomputed" and not sc.options.get("ref"):
            raise BadRequest(f"store {alias!r}: engine \"ngprecomputed\" needs ref = <path or URL of the volume>")
    cfg.metadata_store = str(backend.get("metadata", {}).get("store", ""))
    return cfg
