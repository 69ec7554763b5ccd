import sys

from lockkeys.entry import main

sys.exit(main())
