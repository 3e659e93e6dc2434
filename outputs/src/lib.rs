//! Alert sinks (stdout, file, syslog, http, Loki, Slack, webhook). Built in its own issue; nothing here yet.
