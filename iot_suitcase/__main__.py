"""`python -m iot_suitcase` is the `suitcase` command."""

import sys

from iot_suitcase.cli import main

sys.exit(main())
