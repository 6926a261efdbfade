"""The roi datatype: sets of blocks stored as runs along x, versioned like everything else."""

from dvid.datatypes import registry
from dvid.datatypes.roi.types import RoiType

ROI = registry.register(RoiType())
