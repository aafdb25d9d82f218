"""``python -m keepalived_py`` is the same as the ``keepalived-py`` command."""
from keepalived_py.cli import main

raise SystemExit(main())
