"""`python -m albert_np ...` is the `albert-np` command."""

import sys

from .cli import main

sys.exit(main())
