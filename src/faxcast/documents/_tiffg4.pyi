"""Types of the module cffi generates from _tiffg4_build.py, where its C functions are."""

from typing import Any

ffi: Any
lib: Any
