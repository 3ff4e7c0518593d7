"""Ways data enters a Log Analytics workspace: the Logs Ingestion API, the HTTP Data Collector API and syslog."""
