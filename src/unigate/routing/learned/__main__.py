"""``python -m unigate.routing.learned route-score | router {train,eval,calibrate}``."""

from unigate.routing.learned.commands import main

raise SystemExit(main())
