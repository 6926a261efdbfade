"""What each section of a DVID TOML file may hold, and how each value is checked.

One table per section: the key's canonical (DVID) spelling and a checker that returns the parsed
value or raises ``ValueError`` with the problem in a few words. Keys DVID knows but this server
does not use are listed separately so they get their own warning instead of "unknown key".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dvid.limits import CONFIG_KEYS as LIMIT_KEYS
from dvid.limits import DEFAULT as DEFAULT_LIMITS


def show(v: Any) -> str:
    """A TOML-ish rendering of a bad value for messages."""
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def string(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"must be a string, not {show(v)}")
    return v


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, not {show(v)}")
    return v


def integer(minimum: int | None = None) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be a whole number, not {show(v)}")
        if minimum is not None and v < minimum:
            raise ValueError(f"must be at least {minimum}, not {v}")
        return v

    return check


def number(positive: bool = True) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"must be a number, not {show(v)}")
        if v < 0 or (positive and v == 0):
            raise ValueError(f"must be {'positive' if positive else 'zero or more'}, not {v}")
        return float(v)

    return check


def choice(*options: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        s = string(v).lower()
        if s not in options:
            listed = ", ".join(f'"{o}"' for o in options)
            raise ValueError(f"must be one of {listed}, not {show(v)}")
        return s

    return check


def string_list(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"must be a string or a list of strings, not {show(v)}")
    return list(v)


def address(v: Any) -> str:
    """DVID's ``host:port`` (``:8000`` means every interface)."""
    s = string(v)
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or (host.startswith("[") != host.endswith("]")):
        raise ValueError(f'must be "host:port" (e.g. "localhost:8000"), not {show(v)}')
    return s


@dataclass(frozen=True)
class Key:
    name: str
    check: Callable[[Any], Any]


def table(*keys: Key) -> dict[str, Key]:
    return {k.name.lower(): k for k in keys}


SERVER = table(
    Key("host", string), Key("httpAddress", address), Key("rpcAddress", address), Key("note", string),
    Key("corsDomains", string_list), Key("rwMode", choice("", "readonly", "fullwrite")),
    Key("adminToken", string), Key("adminRequiredForRepoCreation", boolean), Key("workers", integer(0)),
    Key("instance_id_gen", choice("sequential", "random")), Key("instance_id_start", integer(0)),
    Key("min_mutation_id_start", integer(0)), Key("accessLog", boolean), Key("webClient", string),
    Key("webDefaultFile", string), Key("webRedirectPath", string),
    *(Key(key, integer(1) if isinstance(getattr(DEFAULT_LIMITS, name), int) else number())
      for name, key in LIMIT_KEYS.items()),
)
#: [server] key (lower-cased) -> ``Limits`` field
LIMIT_FIELDS = {key.lower(): name for name, key in LIMIT_KEYS.items()}
#: [server] keys of DVID's that this server accepts and ignores
SERVER_DVID_ONLY = ("pidFile", "blockListFile", "allowTiming",
                    "startWebhook", "startJaneliaConfig", "allowLabelmapSplit", "interactiveOpsBeforeBlock",
                    "shutdownDelay")

LOGGING = table(Key("logfile", string), Key("max_log_size", number()), Key("max_log_age", number(False)),
                Key("level", choice("debug", "info", "warning", "error")))

BACKEND = table(Key("store", string))
BACKEND_DVID_ONLY = ("log",)

SECTIONS = ("server", "logging", "store", "backend")
#: whole DVID sections this server does not use (auth, mutation logs, Kafka, caches, mirrors)
DVID_ONLY_SECTIONS = ("auth", "email", "mutations", "kafka", "mutcache", "cache", "groupcache", "mirror")

#: store engines served here, with the options each takes
ENGINES: dict[str, dict[str, Key]] = {
    "lmdb": table(Key("path", string), Key("sync", boolean), Key("map_size", integer(1 << 20))),
    "memory": table(),
    "s3": table(Key("bucket", string), Key("prefix", string), Key("endpoint", string), Key("region", string),
                Key("access_key", string), Key("secret_key", string), Key("allow_http", boolean)),
    "ngprecomputed": table(Key("ref", string), Key("instance", string)),
}
#: engines that take further options of their own (obstore's S3 settings) and refuse unknown ones
PASS_THROUGH = ("s3",)
#: DVID's embedded engines, whose configs are served by LMDB (their extra options are ignored)
LMDB_ALIASES = ("badger", "basholeveldb", "leveldb", "filestore")
#: DVID's append-only log engine: stores of it are ignored (mutation logs are not implemented)
IGNORED_ENGINES = ("filelog",)
