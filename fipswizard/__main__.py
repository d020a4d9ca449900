"""`python -m fipswizard` is the same as the `fipswizard` console script."""

from fipswizard.headless.cli import main

raise SystemExit(main())
