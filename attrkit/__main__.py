import sys

from attrkit.cli import main

sys.exit(main())
