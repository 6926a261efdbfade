"""Neuroglancer-specific helpers: build viewer URLs, run the browser, read screenshot pixels."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import requests
from PIL import Image

from .runner import ARTIFACTS, run_script

# The default shader is auto-ranged in some versions; this one maps uint8 v to gray v/255 exactly.
SHADER = "void main() { emitGrayscale(toNormalized(getDataValue())); }"


def make_uint8blk(base: str, uuid: str, name: str, compression: str, vol_zyx: np.ndarray, offset_zyx=(0, 0, 0)):
    """Create a 64³-block uint8blk instance with 8 nm voxels and POST ``vol_zyx`` at ``offset_zyx``."""
    r = requests.post(
        f"{base}/api/repo/{uuid}/instance",
        json={
            "typename": "uint8blk",
            "dataname": name,
            "Compression": compression,
            "BlockSize": "64,64,64",
            "VoxelSize": "8,8,8",
            "VoxelUnits": "nanometers,nanometers,nanometers",
        },
        timeout=30,
    )
    assert r.status_code == 200, (r.status_code, r.text)
    post_raw(base, uuid, name, vol_zyx, offset_zyx)


def post_raw(base: str, uuid: str, name: str, vol_zyx: np.ndarray, offset_zyx=(0, 0, 0)):
    z, y, x = vol_zyx.shape
    oz, oy, ox = offset_zyx
    r = requests.post(
        f"{base}/api/node/{uuid}/{name}/raw/0_1_2/{x}_{y}_{z}/{ox}_{oy}_{oz}",
        data=np.ascontiguousarray(vol_zyx).tobytes(),
        timeout=60,
    )
    assert r.status_code == 200, (r.status_code, r.text)


def viewer_url(viewer_base: str, dvid_base: str, node_key: str, instance: str, position, scale: float) -> str:
    state = {
        "dimensions": {"x": [8e-9, "m"], "y": [8e-9, "m"], "z": [8e-9, "m"]},
        "position": list(position),
        "crossSectionScale": scale,
        "layers": [
            {
                "type": "image",
                "source": f"dvid://{dvid_base}/{node_key}/{instance}",
                "name": instance,
                "shader": SHADER,
            }
        ],
        "layout": "xy",
        "showAxisLines": False,
        "showScaleBar": False,
        "showDefaultAnnotations": False,
        # red, so that "nothing drawn here" never looks like any gray data value
        "crossSectionBackgroundColor": "#ff0000",
    }
    return f"{viewer_base}/index.html#!" + quote(json.dumps(state, separators=(",", ":")), safe="")


@dataclass
class Shot:
    path: Path
    image: np.ndarray  # H x W x 3 uint8
    panel: dict
    ready: bool
    console: list[dict]

    def center(self) -> tuple[float, float]:
        p = self.panel
        return p["left"] + p["width"] / 2, p["top"] + p["height"] / 2

    def rgb(self, dx: float, dy: float, r: int = 4) -> tuple[float, float, float]:
        """Mean colour over a (2r+1)² patch at (dx, dy) screen pixels from the panel centre."""
        cx, cy = self.center()
        x, y = int(round(cx + dx)), int(round(cy + dy))
        patch = self.image[y - r : y + r + 1, x - r : x + r + 1, :3].astype(float)
        return tuple(float(c) for c in patch.reshape(-1, 3).mean(axis=0))

    def gray(self, dx: float, dy: float) -> float:
        """Gray level at (dx, dy) from the centre; NaN if the patch is not gray (e.g. background)."""
        c = self.rgb(dx, dy)
        return sum(c) / 3 if max(c) - min(c) <= 12 else float("nan")

    def background(self, dx: float, dy: float) -> bool:
        """True where nothing was drawn (the red cross-section background shows)."""
        r, g, b = self.rgb(dx, dy)
        return r > 200 and g < 60 and b < 60

    def chunk_errors(self) -> list[str]:
        return [m["message"] for m in self.console if "retrieving chunk" in m["message"]]

    def severe(self) -> list[str]:
        # the static server has no favicon; that 404 is the page's, not the client's
        return [m["message"] for m in self.console if m["level"] == "SEVERE" and "favicon" not in m["message"]]


def screenshot(python: Path, url: str, name: str, timeout: float = 60) -> Shot:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{int(time.time())}.png"
    out = run_script(
        python,
        "ng_driver.py",
        {"url": url, "screenshot": str(path), "timeout": timeout, "width": 800, "height": 600},
        timeout=timeout + 60,
    )
    print(f"neuroglancer screenshot: {path}")
    assert out["panel"], f"no neuroglancer data panel on the page; console: {out['console']}"
    image = np.asarray(Image.open(path).convert("RGB"))
    return Shot(path=path, image=image, panel=out["panel"], ready=out["ready"], console=out["console"])
