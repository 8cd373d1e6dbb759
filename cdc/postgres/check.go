package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// PreflightOptions configure Preflight; the fields mean what they mean in
// Options.
type PreflightOptions struct {
	DSN               string
	Slot, Publication string
	Filter            Filter
	Checkpoint        []byte
	// ConnectTimeout bounds connecting and logging in (default 10s); the
	// context bounds the whole run.
	ConnectTimeout time.Duration
	// ReadTimeout is Options.ReadTimeout.
	ReadTimeout time.Duration
}

// preflight is one run of Preflight.
type preflight struct {
	o        PreflightOptions
	conn     *pgx.Conn
	role     string // current_user, quoted
	systemID string // "" when the replication connection failed
	dbName   string
	checks   []cdc.Check
}

// Preflight runs the source checks of `fluxo check`, with the functions
// Open runs at start, and returns them with the captured tables (nil when
// they could not be listed). ctx bounds the whole run: give it a deadline.
func Preflight(ctx context.Context, o PreflightOptions) ([]cdc.Check, []cdc.TableID) {
	p := &preflight{o: o}
	if p.o.ConnectTimeout <= 0 {
		p.o.ConnectTimeout = 10 * time.Second
	}
	if !p.connect(ctx) {
		return p.checks, nil
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p.conn.Close(cctx)
	}()
	p.server(ctx)
	p.capacity(ctx)
	ids := p.tables(ctx)
	if ids != nil {
		p.selectable(ctx, ids)
		p.identity(ctx, ids)
		p.publication(ctx, ids)
	}
	sl := p.slot(ctx)
	if o.Checkpoint != nil {
		p.resume(sl)
	}
	return p.checks, ids
}

func (p *preflight) add(name, status, detail, fix string, sql ...string) {
	p.checks = append(p.checks, cdc.Check{Name: name, Status: status, Detail: detail, Fix: fix, SQL: sql})
}

// fail adds a failed check from err, using a cdc.PermanentError's fix.
func (p *preflight) fail(name string, err error, sql ...string) {
	var pe *cdc.PermanentError
	if errors.As(err, &pe) {
		p.add(name, cdc.CheckFail, pe.Err.Error(), pe.Fix, sql...)
		return
	}
	p.add(name, cdc.CheckFail, err.Error(), "")
}

func (p *preflight) skip(reason string, names ...string) {
	for _, n := range names {
		p.add(n, cdc.CheckSkip, "needs "+reason, "")
	}
}

// connect opens the catalog connection; on failure the other checks are
// reported as skipped.
func (p *preflight) connect(ctx context.Context) bool {
	where := "the server in source.dsn"
	if cfg, err := pgx.ParseConfig(p.o.DSN); err == nil {
		where = fmt.Sprintf("%s:%d/%s as %s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
	}
	cctx, cancel := context.WithTimeout(ctx, p.o.ConnectTimeout)
	defer cancel()
	conn, err := connect(cctx, p.o.DSN, p.o.ReadTimeout)
	var version string
	if err == nil {
		p.conn = conn
		err = conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_user, current_database()").Scan(&version, &p.role, &p.dbName)
	}
	if err != nil {
		if conn != nil {
			conn.Close(context.Background())
		}
		p.connectFailed(cctx, where, err)
		p.skip("source.connect", "source.wal_level", "source.replication_role", "source.replication_connection",
			"source.replication_slots", "source.wal_senders", "source.tables", "source.select", "source.replica_identity",
			"source.publication", "source.slot")
		return false
	}
	p.role = pgx.Identifier{p.role}.Sanitize()
	p.add("source.connect", cdc.CheckOK, "PostgreSQL "+version+" at "+where, "")
	return true
}

func (p *preflight) connectFailed(ctx context.Context, where string, err error) {
	var pe *cdc.PermanentError
	var pgErr *pgconn.PgError
	msg := err.Error()
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "28000" && strings.Contains(pgErr.Message, "pg_hba.conf"):
		p.add("source.connect", cdc.CheckFail, msg, "add a line for this client to pg_hba.conf (host <database> <user> <client address>/32 scram-sha-256), then run SELECT pg_reload_conf();")
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") && errors.As(err, &pe):
		p.add("source.connect", cdc.CheckFail, pe.Err.Error(), pe.Fix+"; if the role does not exist, create it: CREATE ROLE <user> LOGIN REPLICATION PASSWORD '...';")
	case errors.As(err, &pe):
		p.add("source.connect", cdc.CheckFail, pe.Err.Error(), pe.Fix)
	case ctx.Err() != nil:
		p.add("source.connect", cdc.CheckFail, "postgres at "+where+" did not answer in time: "+msg,
			"check that the server runs, that source.dsn's host:port is right and that no firewall drops the connection")
	default:
		p.add("source.connect", cdc.CheckFail, msg, "start the server, or correct the host and port in source.dsn")
	}
}

// server checks wal_level, the role and a replication connection, with
// the checks Open runs.
func (p *preflight) server(ctx context.Context) {
	if err := checkWalLevel(ctx, p.conn); err != nil {
		sql := "ALTER SYSTEM SET wal_level = logical;"
		var pe *cdc.PermanentError
		if errors.As(err, &pe) {
			p.add("source.wal_level", cdc.CheckFail, pe.Err.Error(), "run "+sql+" and restart PostgreSQL", sql)
		} else {
			p.fail("source.wal_level", err)
		}
	} else {
		p.add("source.wal_level", cdc.CheckOK, "logical", "")
	}
	if err := checkReplicationRole(ctx, p.conn); err != nil {
		sql := "ALTER ROLE " + p.role + " REPLICATION;"
		var pe *cdc.PermanentError
		if errors.As(err, &pe) {
			p.add("source.replication_role", cdc.CheckFail, pe.Err.Error(), "run "+sql+" (Amazon RDS: GRANT rds_replication TO "+p.role+";)", sql)
		} else {
			p.fail("source.replication_role", err)
		}
		p.skip("source.replication_role", "source.replication_connection")
		return
	}
	p.add("source.replication_role", cdc.CheckOK, p.role+" may replicate", "")
	p.replicationConn(ctx)
}

// replicationConn opens a replication connection as the stream does and
// reads the system identifier.
func (p *preflight) replicationConn(ctx context.Context) {
	repl, err := connectReplication(ctx, p.o.DSN, p.o.ReadTimeout)
	if err != nil {
		p.fail("source.replication_connection", err)
		return
	}
	defer repl.Close(context.Background())
	sys, err := pglogrepl.IdentifySystem(ctx, repl)
	if err != nil {
		p.fail("source.replication_connection", fmt.Errorf("postgres: identify system: %w", err))
		return
	}
	p.systemID = sys.SystemID
	p.add("source.replication_connection", cdc.CheckOK, "system identifier "+sys.SystemID, "")
}

// capacity checks that a replication slot and a walsender are free.
func (p *preflight) capacity(ctx context.Context) {
	var maxSlots, slots, maxSenders, senders int
	var exists bool
	err := p.conn.QueryRow(ctx, `SELECT current_setting('max_replication_slots')::int,
		(SELECT count(*) FROM pg_replication_slots)::int,
		EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
		current_setting('max_wal_senders')::int,
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int`, p.o.Slot).
		Scan(&maxSlots, &slots, &exists, &maxSenders, &senders)
	if err != nil {
		p.fail("source.replication_slots", fmt.Errorf("read max_replication_slots: %w", err))
		p.fail("source.wal_senders", fmt.Errorf("read max_wal_senders: %w", err))
		return
	}
	detail := fmt.Sprintf("%d of max_replication_slots %d used", slots, maxSlots)
	if !exists && slots >= maxSlots {
		sql := fmt.Sprintf("ALTER SYSTEM SET max_replication_slots = %d;", maxSlots+1)
		p.add("source.replication_slots", cdc.CheckFail, detail+": no room for slot "+p.o.Slot+p.inactiveSlots(ctx),
			"drop a slot nothing uses any more (SELECT pg_drop_replication_slot('<name>');), or run "+sql+" and restart PostgreSQL", sql)
	} else {
		p.add("source.replication_slots", cdc.CheckOK, detail, "")
	}
	detail = fmt.Sprintf("%d of max_wal_senders %d in use", senders, maxSenders)
	if senders >= maxSenders {
		sql := fmt.Sprintf("ALTER SYSTEM SET max_wal_senders = %d;", maxSenders+1)
		p.add("source.wal_senders", cdc.CheckFail, detail+": fluxo's replication connection would be refused",
			"run "+sql+" and restart PostgreSQL", sql)
	} else {
		p.add("source.wal_senders", cdc.CheckOK, detail, "")
	}
}

// inactiveSlots names the slots no process uses, as ", inactive: a, b".
func (p *preflight) inactiveSlots(ctx context.Context) string {
	var names []string
	rows, err := p.conn.Query(ctx, "SELECT slot_name FROM pg_replication_slots WHERE NOT active ORDER BY 1")
	if err != nil {
		return ""
	}
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	if rows.Err() != nil || len(names) == 0 {
		return ""
	}
	return " (inactive: " + strings.Join(names, ", ") + ")"
}

// tables lists the captured tables.
func (p *preflight) tables(ctx context.Context) []cdc.TableID {
	ids, err := capturedTables(ctx, p.conn, p.o.Filter)
	if err == nil && len(ids) == 0 {
		err = &cdc.PermanentError{Err: errors.New("postgres: no table matches source.tables"),
			Fix: "check source.tables and source.exclude_tables (schema.table, globs allowed)"}
	}
	if err != nil {
		p.fail("source.tables", err)
		p.skip("source.tables", "source.select", "source.replica_identity", "source.publication")
		return nil
	}
	names := make([]string, 0, 5)
	for _, id := range ids[:min(len(ids), 5)] {
		names = append(names, id.String())
	}
	detail := fmt.Sprintf("%d captured: %s", len(ids), strings.Join(names, ", "))
	if len(ids) > len(names) {
		detail += ", ..."
	}
	p.add("source.tables", cdc.CheckOK, detail, "")
	return ids
}

// selectable checks SELECT on every captured table.
func (p *preflight) selectable(ctx context.Context, ids []cdc.TableID) {
	var denied []string
	for _, id := range ids {
		var ok bool
		if err := p.conn.QueryRow(ctx, "SELECT has_table_privilege($1::regclass, 'SELECT')", quoteID(id)).Scan(&ok); err != nil {
			p.fail("source.select", fmt.Errorf("read privileges on %s: %w", id, err))
			return
		}
		if !ok {
			denied = append(denied, quoteID(id))
		}
	}
	if len(denied) == 0 {
		p.add("source.select", cdc.CheckOK, fmt.Sprintf("SELECT on all %d tables", len(ids)), "")
		return
	}
	sql := "GRANT SELECT ON " + strings.Join(denied, ", ") + " TO " + p.role + ";"
	p.add("source.select", cdc.CheckFail, "no SELECT on "+strings.Join(denied, ", ")+" (needed for the snapshot and TOAST re-reads)", "run "+sql, sql)
}

// identity checks that every table can publish its updates and deletes.
func (p *preflight) identity(ctx context.Context, ids []cdc.TableID) {
	bad, err := withoutReplicaIdentity(ctx, p.conn, ids)
	switch {
	case err != nil:
		p.fail("source.replica_identity", err)
	case len(bad) > 0:
		p.fail("source.replica_identity", replicaIdentityError(bad), replicaIdentitySQL(bad)...)
	default:
		p.add("source.replica_identity", cdc.CheckOK, "every table has a primary key or a replica identity", "")
	}
}

// publication checks that the publication covers the tables, or that the
// role may create it.
func (p *preflight) publication(ctx context.Context, ids []cdc.TableID) {
	name := p.o.Publication
	var exists bool
	if err := p.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", name).Scan(&exists); err != nil {
		p.fail("source.publication", fmt.Errorf("look up publication %q: %w", name, err))
		return
	}
	if exists {
		missing, err := missingFromPublication(ctx, p.conn, name, ids)
		switch {
		case err != nil:
			p.fail("source.publication", err)
		case len(missing) > 0:
			p.fail("source.publication", checkPublication(ctx, p.conn, name, ids), alterPublicationSQL(name, missing))
		default:
			p.add("source.publication", cdc.CheckOK, fmt.Sprintf("%s publishes all %d tables", name, len(ids)), "")
		}
		return
	}
	sql := publicationSQL(name, ids) + ";"
	why, err := p.cannotCreatePublication(ctx, ids)
	switch {
	case err != nil:
		p.fail("source.publication", err)
	case why != "":
		p.add("source.publication", cdc.CheckFail, fmt.Sprintf("publication %s does not exist and %s cannot create it: %s", name, p.role, why),
			"create it as the tables' owner or a superuser: "+sql, sql)
	default:
		p.add("source.publication", cdc.CheckOK, name+" does not exist yet: fluxo stream creates it", "")
	}
}

// cannotCreatePublication says why the role cannot create a publication
// of ids ("" when it can): it needs CREATE on the database and to own every
// table.
func (p *preflight) cannotCreatePublication(ctx context.Context, ids []cdc.TableID) (string, error) {
	var create bool
	if err := p.conn.QueryRow(ctx, "SELECT has_database_privilege(current_database(), 'CREATE')").Scan(&create); err != nil {
		return "", fmt.Errorf("read database privileges: %w", err)
	}
	var notOwned []string
	for _, id := range ids {
		var owns bool
		if err := p.conn.QueryRow(ctx, "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = $1::regclass", quoteID(id)).Scan(&owns); err != nil {
			return "", fmt.Errorf("read the owner of %s: %w", id, err)
		}
		if !owns {
			notOwned = append(notOwned, quoteID(id))
		}
	}
	var why []string
	if !create {
		why = append(why, "no CREATE privilege on the database")
	}
	if len(notOwned) > 0 {
		why = append(why, "does not own "+strings.Join(notOwned, ", "))
	}
	return strings.Join(why, "; "), nil
}

// slot reports the replication slot.
func (p *preflight) slot(ctx context.Context) slot {
	name := p.o.Slot
	sl, err := readSlot(ctx, p.conn, name)
	switch {
	case err != nil:
		p.fail("source.slot", err)
	case !sl.exists:
		p.add("source.slot", cdc.CheckOK, name+" does not exist yet: fluxo stream creates it", "")
	case sl.plugin != "pgoutput" || sl.database != p.dbName:
		p.add("source.slot", cdc.CheckFail, fmt.Sprintf("slot %s uses plugin %s on database %s", name, sl.plugin, sl.database),
			"give fluxo its own slot (source.slot)")
	case sl.walStatus == "lost":
		sql := "SELECT pg_drop_replication_slot('" + name + "');"
		p.add("source.slot", cdc.CheckFail, "slot "+name+" is invalidated (wal_status lost): the server removed WAL it still needed",
			"run "+sql+", delete the checkpoint file and restart to take a new snapshot; raise max_slot_wal_keep_size", sql)
	case sl.activePID != 0:
		p.add("source.slot", cdc.CheckWarn, fmt.Sprintf("slot %s is in use by process %d (a fluxo stream with this config already running?)", name, sl.activePID),
			"stop the other reader, or give this config its own source.slot")
	default:
		detail := fmt.Sprintf("%s exists, confirmed up to %s", name, sl.confirmed)
		if sl.walStatus != "" {
			detail += ", wal_status " + sl.walStatus
		}
		p.add("source.slot", cdc.CheckOK, detail, "")
	}
	return sl
}

// resume checks that the server can resume from the checkpoint.
func (p *preflight) resume(sl slot) {
	cp, err := ParsePosition(p.o.Checkpoint)
	switch {
	case err != nil:
		p.add("source.resume", cdc.CheckFail, err.Error(), "restore the checkpoint file from a backup, or delete it to take a new snapshot")
	case p.systemID == "":
		p.skip("source.replication_connection", "source.resume")
	default:
		if err := verifyResume(cp, sl, p.systemID, p.dbName, p.o.Slot); err != nil {
			p.fail("source.resume", err)
			return
		}
		p.add("source.resume", cdc.CheckOK, "slot "+p.o.Slot+" can resume from the checkpoint at "+cp.LSN.String(), "")
	}
}
