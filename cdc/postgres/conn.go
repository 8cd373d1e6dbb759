package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/liveconn"
)

// sessionSQL prepares every fluxo connection so that text values have one
// known form (see types.go).
func sessionSQL() string { return sessionSetup }

// connConfig parses dsn into the settings every fluxo connection uses:
// client_encoding UTF8 whatever the database's encoding, so that the server
// converts every text it sends (query results in either format, COPY, and
// the pgoutput stream, whose text values and names the walsender converts to
// the client encoding) and pgx accepts the connection.
//
// With readTimeout set, every connection notices a silent peer within it
// (see liveconn): a read or write without progress for that long breaks the
// connection, and TCP keepalive and TCP_USER_TIMEOUT watch idle ones.
func connConfig(dsn string, readTimeout time.Duration) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("source.dsn: %w", err)
	}
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	if readTimeout > 0 {
		cfg.DialFunc = liveconn.Dialer{Timeout: readTimeout, ConnectTimeout: cfg.ConnectTimeout}.DialContext
	}
	return cfg, nil
}

// connect opens a regular connection for catalog queries and snapshots.
func connect(ctx context.Context, dsn string, readTimeout time.Duration) (*pgx.Conn, error) {
	cfg, err := connConfig(dsn, readTimeout)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, explainConnect(dsn, err)
	}
	if _, err := conn.Exec(ctx, sessionSQL()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: session setup: %w", err)
	}
	return conn, nil
}

// connectReplication opens a logical replication connection.
func connectReplication(ctx context.Context, dsn string, readTimeout time.Duration) (*pgconn.PgConn, error) {
	cfg, err := connConfig(dsn, readTimeout)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, &cfg.Config)
	if err != nil {
		return nil, explainConnect(dsn, err)
	}
	// pgoutput formats values with the replication session's settings.
	if _, err := conn.Exec(ctx, sessionSQL()).ReadAll(); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: replication session setup: %w", err)
	}
	return conn, nil
}

func explainConnect(dsn string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			if strings.Contains(pe.Message, "replication") {
				return &cdc.PermanentError{Err: fmt.Errorf("postgres: %w", err),
					Fix: "allow replication connections for the fluxo user in pg_hba.conf (host replication ... or host <db> ...)"}
			}
			return &cdc.PermanentError{Err: fmt.Errorf("postgres: %w", err), Fix: "check the user and password in source.dsn"}
		case "42501":
			return &cdc.PermanentError{Err: fmt.Errorf("postgres: %w", err),
				Fix: "the role needs the REPLICATION attribute: ALTER ROLE <user> REPLICATION"}
		case "3D000":
			return &cdc.PermanentError{Err: fmt.Errorf("postgres: %w", err), Fix: "the database in source.dsn does not exist"}
		}
		return fmt.Errorf("postgres: %w", err)
	}
	return fmt.Errorf("postgres unreachable: %w (is the server running and source.dsn's host:port right?)", err)
}

// checkServer fails when the server cannot serve logical replication to
// this role.
func checkServer(ctx context.Context, conn *pgx.Conn) error {
	if err := checkWalLevel(ctx, conn); err != nil {
		return err
	}
	return checkReplicationRole(ctx, conn)
}

// checkWalLevel fails unless wal_level is logical.
func checkWalLevel(ctx context.Context, conn *pgx.Conn) error {
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("postgres: read wal_level: %w", err)
	}
	if level != "logical" {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: wal_level is %s, logical replication needs logical", level),
			Fix: "run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL"}
	}
	return nil
}

// checkReplicationRole fails unless the role may replicate: the REPLICATION
// attribute, superuser, or membership of rds_replication (Amazon RDS).
func checkReplicationRole(ctx context.Context, conn *pgx.Conn) error {
	var ok bool
	err := conn.QueryRow(ctx, `SELECT r.rolreplication OR r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles g
		WHERE g.rolname = 'rds_replication' AND pg_has_role(r.oid, g.oid, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&ok)
	if err != nil {
		return fmt.Errorf("postgres: read role attributes: %w", err)
	}
	if !ok {
		return &cdc.PermanentError{Err: errors.New("postgres: the role lacks the REPLICATION attribute"),
			Fix: "run ALTER ROLE <fluxo user> REPLICATION (and GRANT SELECT on the captured tables)"}
	}
	return nil
}
