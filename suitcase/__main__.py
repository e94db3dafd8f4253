"""`python -m suitcase` is the `suitcase` command."""

import sys

from suitcase.cli import main

sys.exit(main())
