"""``python -m keepalived_py`` is the same as the ``keepalived-py`` command."""
from keepalived_py.core import startgc

startgc.pause()        # until start-up is over (core/startgc.py); cli.main resumes it at exit

from keepalived_py.cli import main  # noqa: E402

raise SystemExit(main())
