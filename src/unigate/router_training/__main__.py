"""``python -m unigate.router_training route-score | router {train,eval,calibrate}``."""

from unigate.router_training.commands import main

raise SystemExit(main())
