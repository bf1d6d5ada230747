"""The optional C extension of statement intake; everything else is in pyproject.toml.

`activities/storage/_copyrows.c` encodes and hashes statement rows for the binary COPY
(see `activities/storage/pgcopy.py`). `optional=True` turns a missing compiler or missing
OpenSSL headers into a warning: intake then runs the same loop in Python. It links the
OpenSSL libcrypto that CPython's hashlib uses too. (setup.py rather than pyproject's
`[tool.setuptools.ext-modules]`, which setuptools still calls experimental.)
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "activities.storage._copyrows",
            sources=["activities/storage/_copyrows.c"],
            libraries=["crypto"],
            optional=True,
        )
    ]
)
