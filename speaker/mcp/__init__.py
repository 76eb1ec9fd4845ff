"""MCP servers as tools for the model.

* ``remote``: internet-reachable servers the Realtime service calls itself (``type: "mcp"`` session
  tools, secret redaction for logs, approval answers).
* ``bridge`` (+ ``connection``, ``parameters``): LAN and stdio servers the cloud cannot reach; we keep
  them connected with the official SDK and offer their tools as function tools ``<label>__<tool>``.
"""
