"""`python -m agentrl ...` (and `accelerate launch -m agentrl train ...`)."""

import sys

from agentrl.cli import main

sys.exit(main())
