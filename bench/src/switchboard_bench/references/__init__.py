"""Reference servers run beside the gateway in every scenario (the Node.js one is bench/js)."""
