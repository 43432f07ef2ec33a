"""``python -m cli`` from a source tree (installed: ``xenc`` or ``python -m xenc_toolkit.cli``)."""

from .main import main

main()
