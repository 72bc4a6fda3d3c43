"""Flow control that travels with a job's payload: expiry and debounce. Pure, no I/O.

The runtime side of pausing and cancelling lives in runtime/pausing.py,
runtime/cancelling.py and runtime/control.py; the admin side in api/pausing.py and
api/cancelling.py.
"""
