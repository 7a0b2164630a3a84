"""`python -m taskplane.cli`."""

from taskplane.cli import main

raise SystemExit(main())
