"""Where records go: line protocol, InfluxDB writers, the rejects store."""
