"""Read or write one box of an existing uint8blk instance with intern or dvision.

Run with .venv-intern's or .venv-dvision's python; stdin:
{"client": "intern"|"dvision", "url": ..., "uuid": ..., "name": ..., "op": "read"|"write",
 "box": [[z0, y0, x0], [z1, y1, x1]], "seed": n}
"write" stores data.gradient(box shape, box start, seed); "read" returns the bytes (base64,
z, y, x order) as the client decoded them.  Last stdout line: JSON.
"""

import base64
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import gradient  # noqa: E402

args = json.loads(sys.stdin.read())
(z0, y0, x0), (z1, y1, x1) = args["box"]
shape = (z1 - z0, y1 - y0, x1 - x0)
parts = urlsplit(args["url"])

if args["client"] == "intern":
    from intern.remote.dvid import DVIDRemote
    from intern.resource.dvid import DataInstanceResource

    rmt = DVIDRemote({"protocol": "http", "host": parts.netloc})
    res = DataInstanceResource(args["name"], args["uuid"], "uint8blk", datatype="uint8")

    def read():
        return rmt.get_cutout(res, 0, [x0, x1], [y0, y1], [z0, z1])

    def write(arr):
        rmt.create_cutout(res, 0, [x0, x1], [y0, y1], [z0, z1], arr)

elif args["client"] == "dvision":
    import dvision
    from dvision import DVIDDataInstance

    dvision.dvid_requester.whitelist.append(parts.hostname)
    inst = DVIDDataInstance(parts.hostname, parts.port, args["uuid"], args["name"])

    def read():
        return inst[z0:z1, y0:y1, x0:x1]

    def write(arr):
        inst[z0:z1, y0:y1, x0:x1] = arr

else:
    raise SystemExit(f"unknown client {args['client']}")

if args["op"] == "write":
    write(gradient(shape, (z0, y0, x0), seed=args.get("seed", 0)))
    print(json.dumps({"ok": True}))
else:
    got = np.ascontiguousarray(read(), dtype=np.uint8)
    print(json.dumps({"ok": True, "shape": list(got.shape), "data": base64.b64encode(got.tobytes()).decode()}))
