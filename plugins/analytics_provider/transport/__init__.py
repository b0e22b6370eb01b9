"""Connection -> HTTP: the request gate, the redacting adapter, the errors a response becomes.

Used by the hook (which builds the retrying session) and by the dlt source (which parses the
answers); it imports neither.
"""
