"""The ``faithline`` command line (see ``cli/main.py``)."""
