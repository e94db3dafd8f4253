"""Where messages come from: MQTT (with its lean reader) and HTTP."""
