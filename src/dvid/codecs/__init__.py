"""Pure codecs, no I/O and nothing else of ours.

Two modules:

* ``block`` — DVID's stored block values, byte-compatible (imageblk.md §3.3, core.md §5.2): a
  format byte, an optional CRC32, then the payload (none, lz4 with its 4-byte size, gzip, snappy,
  or a JPEG of a Bx × (By·Bz) gray image). ``serialize``/``deserialize``/``deserialize_into``
  (decode straight into the caller's buffer), ``serialize_lz4_into`` and ``lz4_value_bound`` for
  the write hot path, ``stored_payload``/``stored_format`` for passing payloads through.
* ``images`` — 2-D images: ``encode_image`` (PNG, JPEG, TIFF, BMP with DVID's rgba rules),
  ``decode_image`` for ingest, ``box_scale`` (DVID's box resampler for ``isotropic``).
"""
