"""``python -m gradekit``: see :mod:`gradekit.cli`."""

import sys

from gradekit.cli import main

sys.exit(main())
