"""Test support: real servers on loopback (fake upstreams, the gateway as a subprocess)."""
