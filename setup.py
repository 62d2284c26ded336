"""Build hook: compiles the cffi bindings (libspandsp, libtiff) and the RTP media's C."""

from setuptools import setup

setup(
    cffi_modules=[
        "src/faxcast/fax/_spandsp_build.py:ffibuilder",
        "src/faxcast/documents/_tiffg4_build.py:ffibuilder",
        "src/faxcast/sip/_rtp_build.py:ffibuilder",
    ]
)
