"""Allow ``python -m mindsync``."""

from mindsync.cli import main

raise SystemExit(main())
