"""An intake driver for camsort's labelled folders, so a dataset opens with ``intake.open_catalog``.

``read()`` gives the label table (path, technique, group) as a DataFrame; partition i is frame i,
so ``to_dask()`` or ``read_partition(i)`` load pixels lazily.
"""
from __future__ import annotations

import os
from pathlib import Path

from intake.source.base import DataSource, Schema

CATALOG_TEMPLATE = """\
sources:
  patterns:
    description: camsort labelled detector frames (technique per frame)
    driver: camsort_labelled
    args:
      root: "{{ CATALOG_DIR }}"
"""


class LabelledFolderSource(DataSource):
    """Intake source over ``root/labels.csv`` (or technique folders) of a camsort dataset."""

    container = "dataframe"
    name = "camsort_labelled"
    version = "0.1.0"
    partition_access = True

    def __init__(self, root: str, metadata: dict | None = None):
        self.root = root
        self._table = None
        super().__init__(metadata=metadata)

    def _get_schema(self) -> Schema:
        from .datasets import read_labelled_folder

        if self._table is None:
            self._table = read_labelled_folder(self.root)
        n = len(self._table["path"])
        return Schema(datashape=None, dtype={"path": "str", "technique": "str", "group": "str"},
                      shape=(n, 3), npartitions=n, extra_metadata={"root": self.root})

    def read(self):
        import pandas as pd

        self._get_schema()
        return pd.DataFrame(self._table)

    def read_partition(self, i: int):
        """Frame ``i`` as a float32 2-D array."""
        from .io import read_pattern

        self._get_schema()
        return read_pattern(self._table["path"][i]).data

    def _close(self) -> None:
        self._table = None


def write_catalog(root: str | os.PathLike) -> Path:
    """Write ``root/catalog.yml`` pointing the camsort driver at ``root``."""
    path = Path(root) / "catalog.yml"
    path.write_text(CATALOG_TEMPLATE)
    return path
