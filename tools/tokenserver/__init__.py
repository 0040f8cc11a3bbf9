"""A local OAuth2 authorization server speaking every platform dialect iotauth supports.

Built on Authlib's server components and Flask. Run it with ``python -m tools.tokenserver``
(or ``make serve``); tests start it through :func:`tools.tokenserver.server.serve`.
"""
