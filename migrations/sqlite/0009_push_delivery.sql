-- Push delivery: how many requests a sink may have in flight at once (per node), and its TLS:
-- the CA bundle its server certificate must chain to (PEM; none: the system's roots), and the
-- client certificate and key natlis presents (PEM; mutual TLS).
ALTER TABLE push_sink ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 4;
ALTER TABLE push_sink ADD COLUMN ca_pem TEXT;
ALTER TABLE push_sink ADD COLUMN client_cert_pem TEXT;
ALTER TABLE push_sink ADD COLUMN client_key_pem TEXT;
-- Since when the sink is taken to be down (its circuit breaker open on some node), and why.
ALTER TABLE push_sink ADD COLUMN down_since INTEGER;
ALTER TABLE push_sink ADD COLUMN down_reason TEXT;
