"""The world: several processes, their memory, and everything that holds a page.

(Filled in by world.py, ops.py, policy.py, fault.py, guarantees.py,
program.py; results.py has the records the explorer and the live runner
share.)
"""
