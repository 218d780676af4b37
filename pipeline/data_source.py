"""The --data flag, parsed once: which ExampleGen reads it, and the check that fails fast
(before any pipeline work) when it cannot be read."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from cyclegan import sources
from cyclegan.config import Config

SYNTHETIC = "synthetic"
TFDS = "tfds:"


@dataclasses.dataclass(frozen=True)
class DataSource:
    """'synthetic', 'tfds:NAME' or a folder (local or bucket path) of trainA/ trainB/ testA/
    testB/."""

    kind: str  # "synthetic", "tfds" or "folder"
    location: str  # the TFDS name, or the folder; "" for synthetic
    tfds_data_dir: Optional[str] = None

    @property
    def example_gen_id(self) -> str:
        return {
            "synthetic": "SyntheticImageExampleGen",
            "tfds": "TfdsImageExampleGen",
            "folder": "FolderImageExampleGen",
        }[self.kind]

    def check(self) -> str:
        """Raises sources.DataError saying what is wrong; returns a line describing the data."""
        if self.kind == "tfds":
            sources.check_tfds(self.location, self.tfds_data_dir)
            return f"TFDS {self.location}"
        if self.kind == "folder":
            listings = sources.check_folder(self.location)
            return (
                f"{self.location} ("
                + ", ".join(
                    f"{split} {len(listing.images)} images"
                    + (
                        f" + {len(listing.unreadable)} unreadable, skipped"
                        if listing.unreadable
                        else ""
                    )
                    for split, listing in listings.items()
                )
                + ")"
            )
        return "the built-in synthetic set"

    def example_gen(self, config: Config, runtime_parameters: bool = False):
        """The ExampleGen component for this source. runtime_parameters (Kubeflow): a folder
        becomes the per-run parameter `data_root`, defaulting to this one."""
        from tfx import v1 as tfx

        from components.image_example_gen import component

        if self.kind == "synthetic":
            return component.synthetic_example_gen(
                seed=config.data.synthetic_seed,
                train_count=config.data.synthetic_train_per_domain,
                test_count=config.data.synthetic_test_per_domain,
                size=config.data.synthetic_image_size,
            )
        if self.kind == "tfds":
            return component.tfds_example_gen(self.location, self.tfds_data_dir)
        return component.folder_example_gen(
            tfx.dsl.experimental.RuntimeParameter(
                name="data_root", ptype=str, default=self.location
            )
            if runtime_parameters
            else self.location
        )


def parse(data: str, tfds_data_dir: Optional[str] = None, local: bool = True) -> DataSource:
    """local: a local folder is made absolute (a cluster gets the path as written)."""
    if data == SYNTHETIC:
        return DataSource("synthetic", "")
    if data.startswith(TFDS):
        return DataSource("tfds", data[len(TFDS) :], tfds_data_dir)
    is_local_path = "://" not in data
    return DataSource("folder", os.path.abspath(data) if local and is_local_path else data)
