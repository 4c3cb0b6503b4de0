"""The applications behind ``python -m spikeops demo`` and ``hw``. They use only the public
API; nothing in the library imports them."""
