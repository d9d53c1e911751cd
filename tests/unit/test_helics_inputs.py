"""The runtime reads vector and string inputs as pyhelics' own getters do, without declaring a
new C type for each length (cffi parses each new declaration: 3 ms of CPU), through a real
HELICS federation of two federates in a process of its own (this test process must not run
HELICS: it forks federates in other tests): once as pyhelics loads itself, writing tefed's
cache of its C declarations, and once with the declarations read from that cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROGRAM = r"""
import json, math, sys, time
import tefed.runtime.helics_runtime as runtime
from tefed.runtime.helics_library import ffi, h, lib

broker = h.helicsCreateBroker("inproc", "tefed_inputs_test", "--federates=2")


def federate(name):
    info = h.helicsCreateFederateInfo()
    h.helicsFederateInfoSetCoreTypeFromString(info, "inproc")
    h.helicsFederateInfoSetCoreInitString(info, "--federates=1 --broker=tefed_inputs_test")
    h.helicsFederateInfoSetTimeProperty(info, h.HELICS_PROPERTY_TIME_PERIOD, 1.0)
    return h.helicsCreateValueFederate(name, info)


sender, receiver = federate("sender"), federate("receiver")
vector_pub = h.helicsFederateRegisterGlobalPublication(
    sender, "v", h.HELICS_DATA_TYPE_VECTOR, ""
)
text_pub = h.helicsFederateRegisterGlobalPublication(
    sender, "s", h.HELICS_DATA_TYPE_STRING, ""
)
vector_in = h.helicsFederateRegisterSubscription(receiver, "v", "")
text_in = h.helicsFederateRegisterSubscription(receiver, "s", "")
h.helicsFederateEnterExecutingModeAsync(receiver)
h.helicsFederateEnterExecutingMode(sender)
h.helicsFederateEnterExecutingModeComplete(receiver)

vectors = [[1.5], [0.25, -3.0, 1e300], [float(k) / 7 for k in range(5000)], []]
texts = ["", "plain", "ünïcode ✓", "x" * 70000]
rows = []
for step, (vector, text) in enumerate(zip(vectors, texts), start=1):
    h.helicsPublicationPublishVector(vector_pub, vector)
    h.helicsPublicationPublishString(text_pub, text)
    h.helicsFederateRequestTimeAsync(sender, step)
    h.helicsFederateRequestTime(receiver, step)
    h.helicsFederateRequestTimeComplete(sender)
    # Only pyhelics' own declarations parse types with pycparser (cffi.api.FFI); read from the
    # cache, cffi's out-of-line FFI parses them in C and keeps no such record.
    declared = len(getattr(ffi, "_parsed_types", ()))
    ours = runtime.input_vector(vector_in)
    ours_text = runtime.input_string(text_in)
    new_types = len(getattr(ffi, "_parsed_types", ())) - declared
    rows.append(
        {
            "vector_equal": ours.tolist() == h.helicsInputGetVector(vector_in) == vector,
            "dtype": str(ours.dtype),
            "string_equal": ours_text == h.helicsInputGetString(text_in) == text,
            "new_c_types": new_types,
        }
    )
# Bytes that are not UTF-8 (a garbled publisher) become U+FFFD instead of an exception.
error = h.helicsErrorInitialize()
lib.helicsPublicationPublishString(text_pub.handle, ffi.new("char[]", b"ok\xff\xfe"), error)
assert error.error_code == 0
h.helicsFederateRequestTimeAsync(sender, 10)
h.helicsFederateRequestTime(receiver, 10)
h.helicsFederateRequestTimeComplete(sender)
garbled = runtime.input_string(text_in)
for fed in (sender, receiver):
    h.helicsFederateDisconnect(fed)
    h.helicsFederateFree(fed)
h.helicsCloseLibrary()
print(json.dumps({"rows": rows, "garbled": garbled, "ffi": type(ffi).__module__}))
"""


def test_vectors_and_strings_of_any_length_read_as_pyhelics_reads_them(tmp_path: Path):
    environment = {**os.environ, "TEFED_CACHE_DIR": str(tmp_path)}
    loaded_by = []
    for _ in ("pyhelics' own declarations", "tefed's cache of them"):
        completed = subprocess.run(
            [sys.executable, "-c", PROGRAM],
            capture_output=True,
            text=True,
            timeout=120,
            env=environment,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        assert (
            result["rows"]
            == [{"vector_equal": True, "dtype": "float64", "string_equal": True, "new_c_types": 0}]
            * 4
        )
        assert result["garbled"] == "ok\ufffd\ufffd"
        loaded_by.append(result["ffi"])
    assert loaded_by == ["cffi.api", "_cffi_backend"]
    assert [path.name[:20] for path in tmp_path.glob("*.py")] == ["helics_declarations_"]
