"""``python -m keepalived_py`` is the same as the ``keepalived-py`` command."""
from keepalived_py import dccache
from keepalived_py.core import startgc

startgc.pause()        # until start-up is over (core/startgc.py); cli.main resumes it at exit
dccache.install()      # dataclasses' generated code compiled once, not at every start

from keepalived_py.cli import main  # noqa: E402

raise SystemExit(main())
