"""``python -m lockkeys``: the same command line as the ``lockkeys`` script."""

import sys

from lockkeys.entry import main

sys.exit(main())
