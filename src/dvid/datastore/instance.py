"""A data instance's persistent description (the datatype-independent part plus ``props``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COMPRESSION_NAMES = {
    "none": "No compression",
    "snappy": "Go Snappy compression",
    "gzip": "gzip compression",
    "lz4": "LZ4 compression",
    "jpeg": "jpeg compression",
}


@dataclass
class Instance:
    """One data instance of a repo.

    ``compression`` is the normalised DVID setting: ``none``, ``snappy``, ``lz4``, ``gzip``,
    ``gzip:<1-9>`` or ``jpeg`` (``jpeg`` quality = first BlockSize dim, as DVID). ``props`` holds the
    datatype's own properties (BlockSize, VoxelSize, ... for imageblk; BlockSize, MinZ, MaxZ for roi).
    """

    name: str
    typename: str
    data_uuid: str
    instance_id: int
    #: full UUID of the node where the instance was created (JSON "RepoUUID")
    repo_uuid: str
    compression: str = "lz4"
    checksum: str = "none"
    versioned: bool = True
    tags: dict[str, str] | None = None
    syncs: list[str] = field(default_factory=list)
    props: dict[str, Any] = field(default_factory=dict)
    kvstore: str = ""
    logstore: str = "no mutation log set"
    deleted: bool = False
    #: the store alias holding the data when set by ``migrate`` (else the config's [backend] rules)
    store: str = ""
    #: while a migration to this store alias runs, writes are refused
    migrating: str = ""

    def compression_level(self) -> int:
        if self.compression.startswith("gzip:"):
            return int(self.compression.split(":", 1)[1])
        if self.compression == "jpeg":
            bs = self.props.get("BlockSize") or [32]
            return int(bs[0])
        return -1

    def compression_string(self) -> str:
        name = self.compression.split(":", 1)[0]
        return f"{COMPRESSION_NAMES.get(name, name)}, level {self.compression_level()}"

    def base_json(self, type_url: str, type_version: str) -> dict[str, Any]:
        """DVID's ``Base`` object, keys in DVID's order."""
        return {
            "TypeName": self.typename,
            "TypeURL": type_url,
            "TypeVersion": type_version,
            "DataUUID": self.data_uuid,
            "Name": self.name,
            "RepoUUID": self.repo_uuid,
            "Compression": self.compression_string(),
            "Checksum": "CRC32 checksum" if self.checksum == "crc32" else "No checksum",
            "Syncs": list(self.syncs),
            "Versioned": self.versioned,
            "KVStore": self.kvstore,
            "LogStore": self.logstore,
            "Tags": dict(self.tags) if self.tags else None,
        }

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Instance:
        return cls(**rec)
