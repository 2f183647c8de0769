"""``python -m dlbook.data fetch``: see :mod:`dlbook.data.fetch`."""

import sys

from dlbook.data.fetch import main

sys.exit(main())
