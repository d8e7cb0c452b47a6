"""Schemathesis hooks: how to send the plugin upload's media types."""

import schemathesis

# A plugin upload is raw bytes: a wasm component or a TOML document.
schemathesis.serializer.alias("application/wasm", "application/octet-stream")
schemathesis.serializer.alias("application/toml", "text/plain")
