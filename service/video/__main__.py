"""`python -m service.video`: see service/video/cli.py."""

import sys

from service.video.cli import main

sys.exit(main())
