import sys

from dsm_sim.cli import main

sys.exit(main())
