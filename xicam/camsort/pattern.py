"""The Pattern record: one detector frame as float32 pixels plus its header metadata."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .metadata_check import Claim


@dataclass
class Pattern:
    """One 2-D detector frame.

    ``data`` is float32 (invalid pixels may be NaN or negative, as the detector wrote them);
    ``metadata`` keeps header keys (EDF/CBF/TIFF/HDF5 attributes, or simulator parameters);
    ``source`` is the file it came from and ``frame`` its index in a multi-frame file; ``stored`` is the
    frame as the file holds it (its dtype and its own values where ``data`` has NaN), so that a frame
    written out again is the detector's, byte for byte.
    """

    data: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    frame: int | None = None
    stored: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @cached_property
    def claims(self) -> list[Claim]:
        """What the header and the file name say of the technique (:func:`.metadata_check.claims`), worked out
        once per frame: a decision weighs them and its note repeats them."""
        from .metadata_check import claims

        return claims(self.metadata, self.source or "", self.shape)

    @property
    def name(self) -> str:
        """A short label: file name plus frame index for multi-frame files."""
        import os

        base = os.path.basename(self.source) if self.source else "<memory>"
        return base if self.frame is None else f"{base}#{self.frame}"
