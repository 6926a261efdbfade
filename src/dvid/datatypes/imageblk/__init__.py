"""Image block datatypes: uint8blk and rgba8blk, plus uint16/32/64 and float32 from the same code."""

from dvid.datatypes import registry
from dvid.datatypes.imageblk.props import VOXEL_TYPES
from dvid.datatypes.imageblk.types import ImageBlkType

TYPES = {vt.name: registry.register(ImageBlkType(vt)) for vt in VOXEL_TYPES}
