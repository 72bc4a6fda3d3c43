"""The demo shop: the application domain that sidequest's demo stack runs jobs for.

Orders to report on, report records and the files built from them, user accounts
and the mail sent about them. This package knows nothing about Flask or sidequest:
the job classes and the web tier call its functions with IDs and plain values.
"""
