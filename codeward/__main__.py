"""`python -m codeward` runs the CLI."""

from codeward.cli import main

raise SystemExit(main())
