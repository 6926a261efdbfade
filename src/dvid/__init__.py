"""A DVID-compatible, versioned image-block data service."""

__version__ = "0.1.0"
DATASTORE_VERSION = "0.11.0"
