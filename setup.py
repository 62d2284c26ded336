"""Build hook: compiles the cffi binding to the system libspandsp."""

from setuptools import setup

setup(cffi_modules=["src/faxcast/fax/_spandsp_build.py:ffibuilder"])
