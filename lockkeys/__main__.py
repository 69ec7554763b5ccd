import sys

from lockkeys.cli import main

sys.exit(main())
