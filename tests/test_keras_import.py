"""TensorFlow's C++ lines while it loads are filtered as TF_CPP_MIN_LOG_LEVEL says (TensorFlow 2.21 does not)."""
from __future__ import annotations

import os
import subprocess
import sys

from xicam.camsort.features.keras_import import without_hidden_lines

LOADING = (  # what TensorFlow 2.21 wrote on an AMD EPYC with AVX-512 while it loaded
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796358948.933625   12163 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.\n"
    "I0000 00:00:1796358948.979927   12163 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.\n"
    "2025-09-17 14:44:05.157831: W external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not find cuda "
    "drivers on your machine, GPU will not be used.\n"
    "E0000 00:00:1796358949.000000   12163 cuda_dnn.cc:8579] Unable to register cuDNN factory\n"
)


def test_tensorflow_loading_lines_are_kept_by_severity():
    lines = LOADING.splitlines(keepends=True)
    assert without_hidden_lines(LOADING, 0) == LOADING
    assert without_hidden_lines(LOADING, 1) == lines[4] + lines[5]
    assert without_hidden_lines(LOADING, 2) == lines[5]
    assert without_hidden_lines(LOADING, 3) == ""
    assert without_hidden_lines("a line of another library\n", 3) == "a line of another library\n"


def test_camsort_loads_keras_without_tensorflows_info_lines_in_the_terminal():
    """Whatever this machine's CPU makes TensorFlow say while it loads, TF_CPP_MIN_LOG_LEVEL=2 leaves stderr
    without its INFO lines, and keras works."""
    code = ("from xicam.camsort.features.keras_import import keras; k = keras(); "
            "print(k.ops.convert_to_numpy(k.ops.add(1, 2)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0 and run.stdout == "3\n", run.stderr
    assert not [line for line in run.stderr.splitlines() if line.startswith("I0000") or "absl::" in line], run.stderr


def test_lines_pass_through_the_pipe_as_they_come(tmp_path):
    """While TensorFlow loads, stderr goes through a pipe read line by line: what is kept reaches the terminal as
    it is written (a crash during the load would still show it), in order, and the forwarding ends with the pipe."""
    import threading

    from xicam.camsort.features.keras_import import _forward

    read_end, write_end = os.pipe()
    with open(tmp_path / "terminal", "wb") as terminal:
        forward = threading.Thread(target=_forward, args=(read_end, terminal.fileno(), 2))
        forward.start()
        os.write(write_end, LOADING.encode())
        os.write(write_end, b"F0000 00:00:1796358949.100000   12163 port.cc:1] a fatal line before a crash\n")
        os.close(write_end)
        forward.join(30)
        assert not forward.is_alive()
    assert (tmp_path / "terminal").read_text() == (LOADING.splitlines(keepends=True)[5] + "F0000 00:00:"
                                                   "1796358949.100000   12163 port.cc:1] a fatal line before a crash\n")
