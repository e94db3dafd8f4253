"""Grafana dashboards, datasources and alert rules generated from the catalog and the registry (issue #6)."""
