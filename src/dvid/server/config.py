"""Server configuration in DVID's TOML shape (core.md §6), read with tomllib and checked key by key.

Keys are matched case-insensitively like DVID's TOML decoding; relative paths are resolved against
the config file's directory. Every key is checked against ``config_schema``: a typo or a DVID key we
do not use becomes a warning (``Config.warnings``, logged at start-up), a wrong type or a bad address
a ``ConfigError`` naming file, section and key, which ``dvid serve`` prints as one line (exit 2).
With no file: LMDB in ./dvid-data, HTTP on localhost:8000, commands on localhost:8001.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dvid.limits import Limits
from dvid.server import config_schema as schema
from dvid.server.logsetup import LogSettings
from dvid.server.suggest import closest


class ConfigError(ValueError):
    """A configuration the server cannot start with: ``<file>: [section] key: problem``."""

    def __init__(self, path: str, section: str, key: str, problem: str) -> None:
        where = f"[{section}] {key}: " if key else f"[{section}]: " if section else ""
        super().__init__(f"{path}: {where}{problem}")


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
    #: bounds on every request's work (``dvid.limits``), each a ``[server]`` key
    limits: Limits = field(default_factory=Limits)
    web_client: str = ""  # a directory served for non-API paths instead of the built-in console
    web_default_file: str = ""  # served (200) for a missing file under web_client
    web_redirect_path: str = ""  # else a 308 to this path for a missing file
    toml_path: str = ""
    default_store: str = "default"
    metadata_store: str = ""
    #: ``[backend.<spec>] store`` for instance data, spec (lower-cased) -> store alias; a spec is a
    #: data UUID, ``<name>:<root uuid>``, an instance name, ``<tag>=<value>`` or a type name
    backends: dict[str, str] = field(default_factory=dict)
    stores: dict[str, StoreConfig] = field(default_factory=dict)
    run_dir: str = ""
    log: LogSettings = field(default_factory=LogSettings)
    #: problems worth a line in the log that do not stop the server (typos, DVID-only keys)
    warnings: list[str] = field(default_factory=list)

    def store(self, alias: str | None = None) -> StoreConfig:
        name = alias or self.default_store
        if name not in self.stores:
            raise ConfigError(self.toml_path or "(defaults)", "backend.default", "store",
                              f"no store named {name!r} in the configuration")
        return self.stores[name]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Config:
        d = json.loads(text)
        d["stores"] = {k: StoreConfig(**v) for k, v in d["stores"].items()}
        d["log"] = LogSettings(**d["log"])
        d["limits"] = Limits(**d["limits"])
        return cls(**d)


class _Reader:
    """Walks one parsed TOML document, collecting warnings and raising the first hard error."""

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path = str(path)
        self.base = path.parent
        self.doc = {k.lower(): (k, v) for k, v in doc.items()}
        self.warnings: list[str] = []

    def warn(self, section: str, key: str, problem: str) -> None:
        where = f"[{section}] {key}: " if key else f"[{section}]: "
        self.warnings.append(f"{self.path}: {where}{problem}")

    def section(self, name: str) -> dict[str, Any]:
        raw = self.doc.get(name, (name, {}))[1]
        if not isinstance(raw, dict):
            raise ConfigError(self.path, "", name, f"must be a section [{name}], not a value")
        return raw

    def values(self, section: str, raw: dict[str, Any], known: dict[str, schema.Key],
               dvid_only: tuple[str, ...] = ()) -> dict[str, Any]:
        """The checked values of a section, keyed by canonical name; unknown keys are warned about."""
        out: dict[str, Any] = {}
        unused = {k.lower() for k in dvid_only}
        for key, value in raw.items():
            spec = known.get(key.lower())
            if spec is not None:
                try:
                    out[spec.name] = spec.check(value)
                except ValueError as e:
                    raise ConfigError(self.path, section, key, str(e)) from None
            elif key.lower() in unused:
                self.warn(section, key, "a DVID setting this server does not use; ignored")
            else:
                guess = closest(key, [k.name for k in known.values()])
                self.warn(section, key, f"unknown key, did you mean {guess}?" if guess else "unknown key; ignored")
        return out

    def path_value(self, value: str) -> str:
        return value if "://" in value else str((self.base / value).resolve())

    def check_sections(self) -> None:
        for low, (name, value) in self.doc.items():
            if low in schema.SECTIONS:
                continue
            if low in schema.DVID_ONLY_SECTIONS:
                self.warn(name, "", "a DVID section this server does not use; ignored")
            elif not isinstance(value, dict):
                guess = closest(name, [k.name for t in (schema.SERVER, schema.LOGGING) for k in t.values()])
                hint = f", did you mean [server] {guess}?" if guess else "; ignored"
                self.warnings.append(f"{self.path}: {name}: key outside any section{hint}")
            else:
                guess = closest(name, schema.SECTIONS + schema.DVID_ONLY_SECTIONS)
                self.warn(name, "", f"unknown section, did you mean [{guess}]?" if guess else "unknown section; ignored")


def _server(r: _Reader, cfg: Config) -> None:
    v = r.values("server", r.section("server"), schema.SERVER, schema.SERVER_DVID_ONLY)
    cfg.http_address = v.get("httpAddress", cfg.http_address)
    cfg.rpc_address = v.get("rpcAddress", cfg.rpc_address)
    cfg.host = v.get("host", "")
    cfg.note = v.get("note", "")
    cfg.cors_domains = v.get("corsDomains", cfg.cors_domains)
    cfg.rw_mode = v.get("rwMode", "")
    cfg.admin_token = v.get("adminToken", "") or os.environ.get("DVID_ADMIN_TOKEN", "")
    cfg.admin_required_for_repo_creation = v.get("adminRequiredForRepoCreation", False)
    cfg.workers = v.get("workers", 0)
    cfg.instance_id_gen = v.get("instance_id_gen", cfg.instance_id_gen)
    cfg.instance_id_start = v.get("instance_id_start", cfg.instance_id_start)
    cfg.min_mutation_id_start = v.get("min_mutation_id_start", 0)
    cfg.limits = Limits(**{schema.LIMIT_FIELDS[k.lower()]: v[k] for k in v if k.lower() in schema.LIMIT_FIELDS})
    if v.get("webClient"):
        cfg.web_client = r.path_value(v["webClient"])
    cfg.web_default_file = v.get("webDefaultFile", "")
    cfg.web_redirect_path = v.get("webRedirectPath", "")
    cfg.log.access_log = v.get("accessLog", True)


def _logging(r: _Reader, cfg: Config) -> None:
    v = r.values("logging", r.section("logging"), schema.LOGGING)
    if "logfile" in v:
        cfg.log.logfile = r.path_value(v["logfile"])
    cfg.log.level = v.get("level", cfg.log.level)
    cfg.log.max_log_size_mb = v.get("max_log_size", cfg.log.max_log_size_mb)
    cfg.log.max_log_age_days = v.get("max_log_age", cfg.log.max_log_age_days)


def _stores(r: _Reader, cfg: Config) -> None:
    for alias, sect in r.section("store").items():
        name = f"store.{alias}"
        if not isinstance(sect, dict):
            raise ConfigError(r.path, name, "", "must be a section with engine = ...")
        low = {k.lower(): v for k, v in sect.items()}
        engines = ", ".join(schema.ENGINES)
        if "engine" not in low:
            raise ConfigError(r.path, name, "engine", f"missing (one of {engines})")
        engine = str(low["engine"]).lower()
        rest = {k: v for k, v in sect.items() if k.lower() != "engine"}
        if engine in schema.IGNORED_ENGINES:
            r.warn(name, "engine", f'"{engine}" is a DVID log store this server does not use; store ignored')
            continue
        if engine in schema.LMDB_ALIASES:
            r.warn(name, "engine", f'"{engine}" (a DVID engine) is served by the embedded LMDB engine')
            rest = {k: v for k, v in rest.items() if k.lower() == "path"}
            engine = "lmdb"
        if engine not in schema.ENGINES:
            raise ConfigError(r.path, name, "engine",
                              f"unknown engine {schema.show(low['engine'])}; this server has {engines} "
                              f"(DVID's {', '.join(schema.LMDB_ALIASES[:2])} configs map to lmdb)")
        known = schema.ENGINES[engine]
        if engine in schema.PASS_THROUGH:  # the engine checks the rest itself (an unknown one fails)
            opts = {**{k: v for k, v in rest.items() if k.lower() not in known},
                    **r.values(name, {k: v for k, v in rest.items() if k.lower() in known}, known)}
        else:
            opts = r.values(name, rest, known)
        for key in ("path", "ref"):
            if key in opts:
                opts[key] = r.path_value(opts[key])
        if engine == "lmdb" and "path" not in opts:
            raise ConfigError(r.path, name, "path", "missing (the directory of the LMDB store)")
        if engine == "s3" and "bucket" not in opts:
            raise ConfigError(r.path, name, "bucket", "missing (the S3 bucket to use)")
        if engine == "ngprecomputed" and not opts.get("ref"):
            raise ConfigError(r.path, name, "ref", "missing (path or URL of the precomputed volume)")
        cfg.stores[alias] = StoreConfig(alias, engine, opts)


def _backend(r: _Reader, cfg: Config) -> None:
    backend = r.section("backend")
    specs: dict[str, dict[str, Any]] = {}
    for spec, sect in backend.items():
        if not isinstance(sect, dict):
            raise ConfigError(r.path, "backend", spec, "must be a section [backend.<spec>] with store = ...")
        specs[spec.lower()] = r.values(f"backend.{spec}", sect, schema.BACKEND, schema.BACKEND_DVID_ONLY)
    for spec, v in specs.items():
        if "store" in v and v["store"] not in cfg.stores:
            raise ConfigError(r.path, f"backend.{spec}", "store", f"no [store.{v['store']}] section")
    kv_stores = [a for a, sc in cfg.stores.items() if sc.engine != "ngprecomputed"]
    default = specs.get("default", {}).get("store")
    if default:
        cfg.default_store = default
    elif len(kv_stores) == 1:
        cfg.default_store = kv_stores[0]
    elif not kv_stores:
        cfg.stores["default"] = StoreConfig("default", "lmdb", {"path": str((r.base / "dvid-data").resolve())})
    else:
        raise ConfigError(r.path, "backend.default", "store", "missing: with several stores, name the default one")
    if cfg.stores[cfg.default_store].engine == "ngprecomputed":
        raise ConfigError(r.path, "backend.default", "store",
                          "must be a key-value store, not a read-only ngprecomputed volume")
    cfg.metadata_store = specs.get("metadata", {}).get("store", "")
    for spec, v in specs.items():
        if spec in ("default", "metadata") or "store" not in v:
            continue
        if cfg.stores[v["store"]].engine == "ngprecomputed":
            raise ConfigError(r.path, f"backend.{spec}", "store",
                              "must be a key-value store (a GridStore volume is chosen with the GridStore setting)")
        cfg.backends[spec] = v["store"]


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read a DVID-style TOML file (or return the defaults when ``path`` is None)."""
    cfg = Config()
    if path is None:
        cfg.stores["default"] = StoreConfig("default", "lmdb", {"path": os.path.abspath("dvid-data")})
        cfg.admin_token = os.environ.get("DVID_ADMIN_TOKEN", "")
        return cfg
    p = Path(path).resolve()
    try:
        doc = tomllib.loads(p.read_text())
    except OSError as e:
        raise ConfigError(str(p), "", "", f"cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), "", "", f"not valid TOML: {e}") from None
    cfg.toml_path = str(p)
    r = _Reader(p, doc)
    r.check_sections()
    _server(r, cfg)
    _logging(r, cfg)
    _stores(r, cfg)
    _backend(r, cfg)
    cfg.warnings = r.warnings
    return cfg
