"""Package list for setuptools; all other metadata lives in pyproject.toml.

The command-line layer is kept in the top-level ``cli/`` directory (the
architecture map in CONTRIBUTING.md puts it outside the library) and is shipped
inside the wheel as ``xenc_toolkit.cli``. ``[tool.setuptools.packages.find]``
cannot add a package from another directory, so the list is built here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["xenc_toolkit", "xenc_toolkit.*"]), "xenc_toolkit.cli"],
    package_dir={"xenc_toolkit.cli": "cli"},
)
