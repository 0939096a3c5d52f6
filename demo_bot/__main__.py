"""`python -m demo_bot`: see demo_bot.cli for the modes and flags."""

from demo_bot.cli import main

raise SystemExit(main())
