"""Pure codecs, no I/O and nothing else of ours.

INTERFACE CONTRACT (imageblk codes against exactly this):

``dvid.codecs.block`` — DVID's stored-value serialization (imageblk.md §3.3, core.md §5.2):
  * ``serialize(data, compression, checksum, *, block_width=32) -> bytes``
      ``compression`` is the normalised instance setting: "none", "snappy", "lz4", "gzip",
      "gzip:<1-9>", "jpeg" (quality 80, gray image of width ``block_width`` and height
      len(data)//block_width). ``checksum`` is "none" or "crc32". Empty data -> b"".
  * ``deserialize(value) -> bytes``: the decoded voxel bytes (verifies the CRC if present;
      raises ``CodecError`` on corrupt input).
  * ``deserialize_into(value, out) -> None``: decode straight into a writable buffer of exactly the
      decoded size (lz4 without an intermediate copy where the library allows).
  * ``stored_payload(value) -> memoryview``: the payload minus the format byte and CRC, i.e. what
      ``subvolblocks``/``specificblocks`` send by default.
  * ``stored_format(value) -> str``: "none" | "snappy" | "gzip" | "lz4" | "jpeg".
  * ``CodecError(Exception)``.

``dvid.codecs.images`` — 2-D images:
  * ``encode_image(img, fmt) -> tuple[bytes, str]``: ``img`` is (H, W) uint8 gray or (H, W, 4) uint8
      RGBA; ``fmt`` is DVID's format element ("", "png", "jpg", "jpeg", "jpg:75", "tif", "tiff",
      "bmp"); returns (bytes, content type). Bad format -> BadRequest with DVID's text. rgba rules of
      imageblk.md §6 (opaque -> RGB PNG; JPEG premultiplied by alpha).
  * ``decode_image(data: bytes) -> numpy.ndarray``: (H, W) gray, (H, W) uint16, (H, W, 3) RGB or
      (H, W, 4) RGBA, for PNG, JPEG, TIFF, BMP.
  * ``box_scale(img, width, height) -> numpy.ndarray``: DVID's interpolating box-filter resample
      used by ``isotropic`` (imageblk.md §5.1).
"""
