package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// txConn runs one transaction's statements on a pooled connection. BEGIN is not a round
// trip of its own: it is pipelined with the transaction's first Exec or QueryRow, which
// for a single create or update leaves BEGIN+write and COMMIT.
type txConn struct {
	conn     *pgxpool.Conn
	begun    bool  // BEGIN has run
	beginErr error // why BEGIN did not run: no statement may then run, lest it run outside a transaction
	finished bool  // COMMIT or ROLLBACK has been sent
	released bool  // the connection went back to the pool: nothing more can run
}

// unusable tells why no statement may run: the transaction is over, or never began.
func (c *txConn) unusable() error {
	if c.released {
		return pgx.ErrTxClosed
	}
	return c.beginErr
}

// Exec runs sql in the transaction.
func (c *txConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := c.unusable(); err != nil {
		return pgconn.CommandTag{}, err
	}
	if c.begun {
		return c.conn.Exec(ctx, sql, args...)
	}
	br, err := c.beginWith(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}
	return tag, err
}

// QueryRow runs sql in the transaction; the row must be scanned.
func (c *txConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := c.unusable(); err != nil {
		return errRow{err}
	}
	if c.begun {
		return c.conn.QueryRow(ctx, sql, args...)
	}
	if len(args) > 0 {
		// A statement with its own exec mode (a search's) cannot ride in a batch with
		// BEGIN: pgx would send the mode as a parameter.
		if _, ok := args[0].(pgx.QueryExecMode); ok {
			if _, err := c.conn.Exec(ctx, "BEGIN"); err != nil {
				c.beginErr = err
				return errRow{err}
			}
			c.begun = true
			return c.conn.QueryRow(ctx, sql, args...)
		}
	}
	br, err := c.beginWith(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return &batchRow{row: br.QueryRow(), batch: br}
}

// Query runs sql in the transaction. Rows are streamed, so BEGIN goes first on its own.
func (c *txConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := c.unusable(); err != nil {
		return nil, err
	}
	if !c.begun {
		if _, err := c.conn.Exec(ctx, "BEGIN"); err != nil {
			c.beginErr = err
			return nil, err
		}
		c.begun = true
	}
	return c.conn.Query(ctx, sql, args...)
}

// CopyFrom runs COPY FROM STDIN in the transaction. Rows are streamed, so BEGIN goes
// first on its own.
func (c *txConn) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := c.unusable(); err != nil {
		return 0, err
	}
	if !c.begun {
		if _, err := c.conn.Exec(ctx, "BEGIN"); err != nil {
			c.beginErr = err
			return 0, err
		}
		c.begun = true
	}
	return c.conn.CopyFrom(ctx, table, columns, src)
}

// beginWith sends BEGIN and sql in one round trip and reads BEGIN's result; the caller
// reads sql's and closes the batch. When BEGIN fails (a context already done, an argument
// that cannot be encoded: nothing was sent), the batch is closed and the transaction
// refuses every later statement.
func (c *txConn) beginWith(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(sql, args...)
	br := c.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		c.beginErr = err
		return nil, err
	}
	c.begun = true
	return br, nil
}

// commitTimeout bounds a COMMIT, which the request's context no longer cancels.
const commitTimeout = 30 * time.Second

// commit commits what was begun. A transaction that failed earlier answers COMMIT with
// ROLLBACK, which is an error here.
func (c *txConn) commit(ctx context.Context) error {
	if c.beginErr != nil {
		return c.beginErr
	}
	if !c.begun || c.finished {
		return nil
	}
	c.finished = true
	// Once COMMIT is sent its outcome must be known: a client that goes away meanwhile
	// must not leave a commit that may or may not have happened behind a closed connection.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tag, err := c.conn.Exec(ctx, "COMMIT")
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// commitAfter runs sql, then commits, in one round trip. If sql fails, COMMIT is not
// run and the transaction is rolled back.
func (c *txConn) commitAfter(ctx context.Context, sql string, args []any) error {
	if c.beginErr != nil {
		return c.beginErr
	}
	if !c.begun {
		if _, err := c.Exec(ctx, sql, args...); err != nil {
			c.rollback(context.WithoutCancel(ctx))
			return err
		}
		return c.commit(ctx)
	}
	if c.finished {
		return nil
	}
	c.finished = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	br := c.conn.SendBatch(ctx, b)
	_, err := br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		// A failed statement leaves the transaction aborted, not ended; after a failed
		// COMMIT this ROLLBACK is a harmless warning.
		c.conn.Exec(ctx, "ROLLBACK")
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// rollback abandons what was begun and not finished. If ROLLBACK fails the connection
// is left in a transaction, and the pool closes it on release rather than reuse it.
func (c *txConn) rollback(ctx context.Context) {
	if c.begun && !c.finished {
		c.finished = true
		c.conn.Exec(ctx, "ROLLBACK")
	}
}

// release gives the connection back to the pool, which closes it instead if a failed
// ROLLBACK left it inside a transaction.
func (c *txConn) release() {
	if !c.released {
		c.released = true
		c.conn.Release()
	}
}

// batchRow is the row of a statement pipelined after BEGIN: scanning it also reads the
// end of the batch.
type batchRow struct {
	row   pgx.Row
	batch pgx.BatchResults
}

func (r *batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if closeErr := r.batch.Close(); err == nil {
		err = closeErr
	}
	return err
}

// errRow is a row whose statement could not run.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
