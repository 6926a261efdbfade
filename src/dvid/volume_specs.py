"""TensorStore specs for the volume formats we read and write (neuroglancer-precomputed, zarr v3).

One place for the JSON TensorStore is opened with: GridStore volumes (``storage/precomputed.py``),
``export``/``import`` (``datatypes/imageblk/export.py``) and whole-pyramid export/import
(``datatypes/imageblk/pyramid_io.py``) all build their specs here. Locations
are local paths, ``file://`` URLs or any URL TensorStore's kvstore drivers take (``gs://``,
``s3://``, ``http(s)://``); for ``s3://`` the ``AWS_ENDPOINT_URL`` of a non-AWS object store is
passed on, since TensorStore's S3 driver does not read it.
"""

from __future__ import annotations

import os
from typing import Any


def kvstore(location: str, *, directory: bool = False) -> dict[str, Any]:
    """The kvstore spec of a volume location; ``directory`` ends its path with ``/`` (for reading
    keys such as ``info`` below it)."""
    if location.startswith(("s3://", "gs://")):
        scheme, rest = location.split("://", 1)
        bucket, _, path = rest.partition("/")
        spec: dict[str, Any] = {"driver": "s3" if scheme == "s3" else "gcs", "bucket": bucket, "path": path}
        if scheme == "s3" and os.environ.get("AWS_ENDPOINT_URL"):
            spec["endpoint"] = os.environ["AWS_ENDPOINT_URL"]
    elif "://" in location and not location.startswith("file://"):
        return {"url": location if not directory or location.endswith("/") else location + "/"}
    else:
        spec = {"driver": "file", "path": os.path.abspath(local_path(location) or location)}
    if directory and spec["path"] and not spec["path"].endswith("/"):
        spec["path"] += "/"
    return spec


def slabs(lo: int, hi: int, step: int):
    """``[a, b)`` ranges along z aligned to ``step`` covering ``lo..hi`` inclusive (one block layer
    each), the unit in which export and import move data."""
    a = lo
    while a <= hi:
        b = min(hi + 1, (a // step + 1) * step)
        yield a, b
        a = b


def local_path(location: str) -> str | None:
    """The filesystem path of a local location, None for a remote one."""
    if location.startswith("file://"):
        return location[len("file://"):]
    return None if "://" in location else location


def precomputed_read(location: str, scale: int) -> dict[str, Any]:
    return {"driver": "neuroglancer_precomputed", "kvstore": kvstore(location, directory=True), "scale_index": scale}


def precomputed_scale(*, size: list[int], offset: list[int], chunk: list[int], resolution: list[float],
                      encoding: str = "raw", jpeg_quality: int | None = None) -> dict[str, Any]:
    """The ``scale_metadata`` of one precomputed scale; ``jpeg_quality`` (0-100) goes with
    ``encoding="jpeg"`` only (TensorStore's default is 75 otherwise)."""
    meta: dict[str, Any] = {"size": size, "voxel_offset": offset, "encoding": encoding, "chunk_size": chunk,
                            "resolution": resolution}
    if encoding == "jpeg" and jpeg_quality is not None:
        meta["jpeg_quality"] = jpeg_quality
    return meta


def precomputed_create(location: str, *, dtype: str, channels: int, size: list[int], offset: list[int],
                       chunk: list[int], resolution: list[float], encoding: str = "raw",
                       jpeg_quality: int | None = None) -> dict[str, Any]:
    """A new single-scale precomputed image volume (an existing one at ``location`` is replaced)."""
    return {
        "driver": "neuroglancer_precomputed", "kvstore": kvstore(location), "create": True, "delete_existing": True,
        "multiscale_metadata": {"data_type": dtype, "num_channels": channels, "type": "image"},
        "scale_metadata": precomputed_scale(size=size, offset=offset, chunk=chunk, resolution=resolution,
                                            encoding=encoding, jpeg_quality=jpeg_quality),
    }


def precomputed_scale_create(location: str, *, first: bool, dtype: str, channels: int, size: list[int],
                             offset: list[int], chunk: list[int], resolution: list[float], encoding: str = "raw",
                             jpeg_quality: int | None = None) -> dict[str, Any]:
    """One scale of a new multi-scale precomputed volume, opened in scale order: the ``first``
    replaces any volume at ``location``, each later one is added to its ``info``."""
    spec: dict[str, Any] = {
        "driver": "neuroglancer_precomputed", "kvstore": kvstore(location), "create": True,
        "scale_metadata": precomputed_scale(size=size, offset=offset, chunk=chunk, resolution=resolution,
                                            encoding=encoding, jpeg_quality=jpeg_quality),
    }
    if first:
        spec.update(delete_existing=True,
                    multiscale_metadata={"data_type": dtype, "num_channels": channels, "type": "image"})
    else:
        spec["open"] = True
    return spec


def _child(kv: dict[str, Any], name: str) -> dict[str, Any]:
    """The kvstore spec of ``name`` below the kvstore spec ``kv``."""
    out = dict(kv)
    if "path" in out:
        out["path"] = out["path"].rstrip("/") + "/" + name
    else:
        out["url"] = out["url"].rstrip("/") + "/" + name
    return out


def _zarr3_create(kv: dict[str, Any], dtype: str, shape: list[int], chunk: list[int],
                  attributes: dict[str, Any], dimension_names: list[str] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"shape": shape, "data_type": dtype,
                                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}}}
    if dimension_names is not None:
        metadata["dimension_names"] = dimension_names
    metadata["attributes"] = attributes
    return {"driver": "zarr3", "kvstore": kv, "create": True, "delete_existing": True, "metadata": metadata}


def zarr3_create(location: str, *, dtype: str, shape: list[int], chunk: list[int],
                 attributes: dict[str, Any]) -> dict[str, Any]:
    """A new zarr v3 array (an existing one at ``location`` is replaced)."""
    return _zarr3_create(kvstore(location), dtype, shape, chunk, attributes, None)


def zarr3_member_create(location: str, path: str, *, dtype: str, shape: list[int], chunk: list[int],
                        dimension_names: list[str], attributes: dict[str, Any]) -> dict[str, Any]:
    """A new zarr v3 array ``path`` inside the group at ``location`` (one scale of an OME-Zarr
    multiscale; an existing array there is replaced)."""
    return _zarr3_create(_child(kvstore(location), path), dtype, shape, chunk, attributes, dimension_names)


def zarr3_member_open(location: str, path: str) -> dict[str, Any]:
    """The existing zarr v3 array ``path`` inside the group at ``location``, for reading."""
    return {"driver": "zarr3", "kvstore": _child(kvstore(location), path), "open": True}


def open_existing(location: str, volume_format: str) -> dict[str, Any]:
    """An existing volume of ``volume_format`` (an export format: ``zarr3`` or ``precomputed``), for
    reading."""
    driver = "zarr3" if volume_format == "zarr3" else "neuroglancer_precomputed"
    return {"driver": driver, "kvstore": kvstore(location), "open": True}


def detect_format(location: str) -> str | None:
    """``zarr3`` or ``precomputed`` for a local volume whose metadata file is there, else None."""
    path = local_path(location)
    if path is None:
        return None
    if os.path.exists(os.path.join(path, "zarr.json")):
        return "zarr3"
    if os.path.exists(os.path.join(path, "info")):
        return "precomputed"
    return None
