"""The ingest service. A message travels through the folders in this order:

sources/ (MQTT, HTTP) -> intake/ (decode, validate) -> wal/ (the write-ahead log, acknowledged once durable)
-> sink/ (line protocol into InfluxDB, rejects into their store); operations/ shows all of it to people.
"""
