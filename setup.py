"""camsort: sort X-ray scattering detector frames by technique (SAXS, WAXS, GISAXS, GIWAXS).

Entry points live in entry_points.cfg (the Xi-cam plugin groups and the ``camsort`` script).
"""
import configparser
import os
import re

from setuptools import find_namespace_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _version() -> str:
    with open(os.path.join(HERE, "xicam", "camsort", "__init__.py")) as fh:
        return re.search(r'__version__ = "([^"]+)"', fh.read()).group(1)


def _entry_points() -> dict:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # keep the case of entry-point names
    parser.read(os.path.join(HERE, "entry_points.cfg"))
    return {group: [f"{name} = {target}" for name, target in parser.items(group)]
            for group in parser.sections()}


CORE = [
    "numpy>=1.26",
    "scipy>=1.11",
    "scikit-image>=0.22",
    "scikit-learn>=1.4",
    "fabio>=2023.10",
    "h5py>=3.9",
    "hdf5plugin>=4",  # bitshuffle-LZ4 and the other filters Eiger HDF5 files are written with
    "tifffile>=2023.8",
    "astropy>=6",  # FITS, as ALS soft X-ray CCDs write frames
    "matplotlib>=3.8",
    "tqdm>=4.66",
    "pyyaml>=6",
    "pandas>=2",
    "skops>=0.9",
    "lightgbm>=4",
    "xgboost>=2",
    "catboost>=1.2",
    "keras>=3.3",
    "tensorflow-cpu>=2.16; platform_system == 'Linux' and platform_machine == 'x86_64'",
    "tensorflow>=2.16; platform_system != 'Linux' or platform_machine != 'x86_64'",
    "intake>=0.6,<2",
    "watchdog>=3",
]
EXTRAS = {
    # Xi-cam 2.4.6 is the release that runs on Python 3.11 with camsort's compat module;
    # qtpy>=2.4 breaks its main window; it still imports pkg_resources (gone in setuptools 81).
    "gui": ["xicam==2.4.6", "qtpy<2.4", "PyQt5>=5.15", "setuptools<81"],
    "hpc": ["dask[distributed]>=2024.1", "distributed>=2024.1", "dask-jobqueue>=0.8"],
    "test": ["pytest>=8", "pytest-qt>=4.4", "pytest-xdist>=3.5", "fabio>=2023.10", "ruff>=0.6"],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="camsort",
    version=_version(),
    description="Sort X-ray scattering detector frames by technique (SAXS/WAXS/GISAXS/GIWAXS); Xi-cam plugins",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.11,<3.12",
    packages=find_namespace_packages(include=["xicam.camsort", "xicam.camsort.*"]),
    include_package_data=True,
    package_data={"xicam.camsort": ["default_model/*", "default_model/**/*", "builtin_workflows/*.yml"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points=_entry_points(),
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Physics",
        "Intended Audience :: Science/Research",
    ],
)
