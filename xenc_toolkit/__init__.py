"""xenc-toolkit: fine-tune sentence-transformers CrossEncoders to link biomedical mentions to UMLS.

The pipeline stages live in sub-packages (``kb``, ``corpora``, ``index``, ``mining``,
``training``, ``evaluation``, ``calibration``, ``linking``); :mod:`xenc_toolkit.api`
mirrors the ``xenc`` command line one function per subcommand.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
